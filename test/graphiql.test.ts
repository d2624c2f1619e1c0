import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocalUrl, launchChromium } from './helpers/browser.js';
import { execute, getRun } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// GraphiQL on GET /graphql, in a real (headless, offline) Chromium: it must render from the
// inlined assets alone (STACK.md pitfall 15) and run a runEvents subscription live over SSE.

const SCREENSHOT = '/tmp/graphiql.png';

let server: TestServer | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
/** Every URL the page requested, in order. */
const requested: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
/** Statuses of GraphiQL's introspection requests (it needs the schema for the editor). */
const introspections: number[] = [];

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  // Every content security policy violation the page meets, as the browser reports it.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  page.on('request', (request) => requested.push(request.url()));
  page.on('response', (response) => {
    if (response.request().postData()?.includes('__schema')) introspections.push(response.status());
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
});

afterAll(async () => {
  // Close the browser even if the server failed to start (and vice versa).
  if (consoleErrors.length) console.warn(`browser console errors:\n${consoleErrors.join('\n')}`);
  await browser?.close().catch(() => undefined);
  await server?.close();
});

function foreignRequests(): string[] {
  const origin = new URL(server!.url).origin;
  return requested.filter((url) => !isLocalUrl(url, origin));
}

interface Shown {
  seq: number;
  progress: number | null;
  status: string | null;
  /** ms since the recorder started */
  at: number;
}

/**
 * Records, inside the page, every distinct payload GraphiQL's (Monaco) result pane shows, as
 * it renders it: sampling from the test over CDP is too slow on a busy machine to see them.
 */
async function recordResultPane(): Promise<void> {
  await page.evaluate(() => {
    const pane = document.querySelector('.graphiql-response');
    if (!pane) throw new Error('no result pane');
    const shown: Shown[] = [];
    const started = performance.now();
    const read = () => {
      const text = [...pane.querySelectorAll<HTMLElement>('.view-line')]
        .map((line) => ({ top: parseFloat(line.style.top || '0'), text: line.textContent ?? '' }))
        .sort((a, b) => a.top - b.top)
        .map((line) => line.text.replace(/\u00a0/g, ' '))
        .join('\n');
      (window as unknown as { __paneText: string }).__paneText = text;
      const seq = /"seq": (\d+)/.exec(text);
      if (!seq || Number(seq[1]) === shown.at(-1)?.seq) return;
      const progress = /"progressPercent": ([\d.]+)/.exec(text);
      const status = /"status": "(\w+)"/.exec(text);
      shown.push({
        seq: Number(seq[1]),
        progress: progress ? Number(progress[1]) : null,
        status: status?.[1] ?? null,
        at: performance.now() - started,
      });
    };
    (window as unknown as { __shown: Shown[] }).__shown = shown;
    new MutationObserver(read).observe(pane, { subtree: true, childList: true, characterData: true });
  });
}

function shownSoFar(): Promise<{ shown: Shown[]; text: string }> {
  return page.evaluate(() => {
    const w = window as unknown as { __shown: Shown[]; __paneText?: string };
    return { shown: [...w.__shown], text: w.__paneText ?? '' };
  });
}

async function openGraphiQL(path: string): Promise<void> {
  const response = await page.goto(`${server!.url}${path}`, { waitUntil: 'load', timeout: 30_000 });
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toMatch(/^text\/html/);
  // A browser navigation, which is what makes yoga answer with GraphiQL rather than JSON.
  expect((await response!.request().allHeaders())['accept']).toMatch(/^text\/html/);
  // The query editor (Monaco) is up and the execute button is there and enabled.
  await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ state: 'visible', timeout: 20_000 });
  await page.locator('.graphiql-execute-button').waitFor({ state: 'visible', timeout: 5_000 });
  await expect.poll(() => page.locator('.graphiql-execute-button').isEnabled(), { timeout: 5_000 }).toBe(true);
}

describe('GraphiQL on GET /graphql (headless Chromium, no internet)', () => {
  it('renders from inlined assets only: editor up, nothing left loading, no request off our origin', async () => {
    await openGraphiQL('/graphql');
    // The browser's navigation asked for HTML, as a person's browser does.
    expect(requested[0]).toBe(`${server!.url}/graphql`);
    await expect.poll(async () => (await page.locator('body').innerText()).includes('Loading'), { timeout: 5_000 }).toBe(false);
    expect(await page.title()).toBe('strategy-runner');
    // GraphiQL fetched the schema from us (doc explorer, completion, validation).
    await expect.poll(() => introspections, { timeout: 10_000 }).toContain(200);
    // The configured default query is shown.
    await expect.poll(() => page.locator('.graphiql-query-editor .view-lines').innerText(), { timeout: 5_000 }).toContain('executeStrategy');
    expect(foreignRequests()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('runs under its own content security policy without a single violation', async () => {
    const response = await page.goto(`${server!.url}/graphql`, { waitUntil: 'load', timeout: 30_000 });
    const policy = response!.headers()['content-security-policy'] ?? '';
    // Scripts pinned by hash: no 'unsafe-inline' and no 'unsafe-eval' for scripts.
    expect(policy).toMatch(/script-src 'sha256-[^']+'( 'sha256-[^']+')*;/);
    expect(policy).toContain("frame-ancestors 'none'");
    await page.locator('.graphiql-query-editor .monaco-editor').first().waitFor({ state: 'visible', timeout: 20_000 });
    await expect.poll(() => introspections.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations)).toEqual([]);
    expect(consoleErrors.filter((message) => /Content Security Policy/i.test(message))).toEqual([]);
  });

  it('runs a runEvents subscription typed into the editor and shows live payloads until COMPLETED', async () => {
    // The page takes seconds to load (9 MB of inlined assets), so load it first and start the
    // run only then, typing and executing right away: the subscription must meet the run while
    // it is live, not replay it after the fact (this file shares two cores with the others).
    if (!page.url().startsWith(`${server!.url}/graphql`)) await openGraphiQL('/graphql');
    const editor = page.locator('.graphiql-query-editor .monaco-editor .view-lines').first();
    // As a person would: click into the query editor, select all, type over it.
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    // About 7.5 s of progress events.
    const run = await execute(server!.url, 'fixture_steps', { steps: 150, delay_ms: 50 });
    const query = `subscription Watch { runEvents(runId: "${run.id}") { seq eventType progressPercent status } }`;
    await page.keyboard.insertText(query);
    await page.keyboard.press('Escape'); // close any completion popup
    const requestsBefore = requested.length;
    await recordResultPane();
    await page.locator('.graphiql-execute-button').click();

    // Wait for the terminal payload; the recorder has seen every payload on the way.
    const deadline = Date.now() + 30_000;
    let seen: Shown[] = [];
    let text = '';
    for (;;) {
      ({ shown: seen, text } = await shownSoFar());
      if (seen.at(-1)?.status === 'COMPLETED') break;
      if (Date.now() > deadline) throw new Error(`no COMPLETED payload within 30 s; last pane text:\n${text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // What ran is what was typed.
    expect((await editor.innerText()).replace(/\s+/g, ' ').trim()).toBe(query);
    // Prettify (GraphiQL's own button) so the screenshot is readable, and scroll to the start.
    await page.locator('.graphiql-query-editor button[aria-label^="Prettify"]').first().click();
    await expect.poll(async () => (await editor.innerText()).split('\n').length, { timeout: 5_000 }).toBeGreaterThan(3);
    await editor.click();
    await page.keyboard.press('ControlOrMeta+Home');
    await page.screenshot({ path: SCREENSHOT });

    expect(text).not.toMatch(/"errors"/);
    // Live: the pane changed payload by payload while the run went on (several distinct
    // payloads before the terminal one), seq strictly increasing, progress never going back.
    // A replay of a finished run would flash by in well under a second; this one is spread
    // over the run's seconds.
    const live = seen.filter((shown) => shown.status !== 'COMPLETED');
    expect(live.length).toBeGreaterThanOrEqual(5);
    expect(seen.at(-1)!.at - live[0]!.at).toBeGreaterThan(2_000);
    const seqs = seen.map((s) => s.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const progress = seen.map((s) => s.progress).filter((p): p is number => p !== null);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // The last payload is the run's terminal status event, matching what the server stored.
    const stored = await getRun(server!.url, run.id);
    expect(stored).toMatchObject({ status: 'COMPLETED' });
    expect(seen.at(-1)!.seq).toBe(stored!.lastSeq);

    // The subscription went over SSE to our own server, and nothing left the machine.
    const subscriptionRequests = requested.slice(requestsBefore);
    console.info(`GraphiQL showed ${seen.length} distinct payloads (seq ${seqs[0]}..${seqs.at(-1)}) over ${Math.round(seen.at(-1)!.at - seen[0]!.at)} ms; requests: ${subscriptionRequests.join(', ')}`);
    expect(subscriptionRequests.some((url) => url.startsWith(`${server!.url}/graphql`))).toBe(true);
    expect(foreignRequests()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe('the GraphiQL page over HTTP', () => {
  it('is sent gzipped with an ETag, and a reload costs a 304', async () => {
    const first = await fetch(`${server!.url}/graphql`, { headers: { accept: 'text/html', 'accept-encoding': 'gzip' } });
    const html = await first.text(); // fetch decompresses
    expect(first.status).toBe(200);
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain('<title>strategy-runner</title>');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${server!.url}/graphql`, { headers: { accept: 'text/html', 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    // GraphQL requests on the same path are not affected.
    const query = await fetch(`${server!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await query.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
