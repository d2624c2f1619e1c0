import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocalUrl, launchChromium } from './helpers/browser.js';
import { cspViolations, expectedLogSeqs, logSeqs, recordCspViolations, seriousAccessibilityViolations } from './helpers/dashboard.js';
import { gql } from './helpers/graphql.js';
import { CancelRunDocument } from './documents.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The web dashboard (CONTRACT §7) in a real headless Chromium against the real server: every
// page by its accessible roles and names, live runs, reloads, and the server's strict CSP.
// One run at a time (MAX_CONCURRENT_RUNS=1) so the queue view has a queue to show.

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const requested: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
/** Pages scanned by axe, with what it found. */
const accessibility: Record<string, string[]> = {};

beforeAll(async () => {
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '1' });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  page = await context.newPage();
  await recordCspViolations(page);
  context.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
});

afterAll(async () => {
  if (consoleErrors.length) console.warn(`browser console errors:\n${consoleErrors.join('\n')}`);
  await browser?.close().catch(() => undefined);
  await server?.close();
});

async function open(path: string): Promise<void> {
  const response = await page.goto(`${server.url}${path}`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
}

async function scan(name: string): Promise<void> {
  accessibility[name] = await seriousAccessibilityViolations(page);
  expect(accessibility[name], `axe on ${name}`).toEqual([]);
}

const progressbar = () => page.getByRole('progressbar', { name: 'Run progress' });
const progressNow = async () => Number(await progressbar().getAttribute('aria-valuenow'));
const status = () => page.getByTestId('run-status');
const runIdFromUrl = () => new URL(page.url()).pathname.split('/').at(-1)!;

async function expectLogMatchesStorage(runId: string): Promise<void> {
  const expected = expectedLogSeqs(await storedEvents(server.database.url, runId));
  await expect.poll(() => page.getByTestId('log-count').innerText(), { timeout: 10_000 }).toBe(`${expected.length} lines`);
  expect(await logSeqs(page)).toEqual(expected);
}

describe('the dashboard', () => {
  it('launches a screener from its generated form and shows it live to its result', async () => {
    await open('/');
    const strategies = page.getByRole('list', { name: 'Strategies' });
    await expect.poll(() => strategies.getByRole('link').count()).toBeGreaterThan(3);
    await strategies.getByRole('link', { name: /^bullish_strategy/ }).click();
    await page.getByRole('heading', { name: 'Run bullish_strategy' }).waitFor();
    // Defaults filled in, arrays of tickers included.
    const form = page.getByRole('form', { name: 'Parameters' });
    expect(await form.getByLabel('universe', { exact: true }).inputValue()).toBe('sp500');
    expect(await form.getByLabel('rsi_max', { exact: true }).inputValue()).toBe('70');
    expect(await form.getByLabel('require_uptrend', { exact: true }).isChecked()).toBe(true);
    expect(await form.getByLabel('tickers', { exact: true }).inputValue()).toBe('');
    await page.screenshot({ path: '/tmp/dashboard-launch.png', fullPage: true });
    await scan('launch');

    await form.getByLabel('universe', { exact: true }).selectOption('dow30');
    await form.getByLabel('fetch_latency_ms', { exact: true }).fill('120');
    for (const [name, value] of [['min_score', '0'], ['rsi_min', '0'], ['rsi_max', '100'], ['min_volume_ratio', '0']] as const) await form.getByLabel(name, { exact: true }).fill(value);
    await form.getByLabel('require_uptrend', { exact: true }).uncheck();
    await form.getByLabel('require_macd_bullish', { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    const runId = runIdFromUrl();

    // Live: the bar moves through values between 0 and 100 while the run goes on.
    const seen = new Set<number>();
    await expect
      .poll(async () => {
        seen.add(await progressNow());
        return [...seen].filter((value) => value > 0 && value < 100).length;
      }, { timeout: 30_000, interval: 100 })
      .toBeGreaterThanOrEqual(3);
    expect(await status().innerText()).toBe('Running');
    await expect.poll(() => page.getByText(/^\d+ of 30$/).count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Cancel', exact: true }).isVisible()).toBe(true);
    await page.screenshot({ path: '/tmp/dashboard-run-live.png', fullPage: true });
    await scan('run (live)');

    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Completed');
    expect(await progressNow()).toBe(100);
    expect(await page.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
    // The result as a sortable table of the ranked candidates.
    const table = page.getByRole('table').filter({ has: page.locator('caption', { hasText: 'candidates' }) });
    await expect.poll(() => table.locator('tbody tr').count(), { timeout: 10_000 }).toBe(25);
    await table.getByRole('button', { name: /^score/ }).click();
    await table.getByRole('button', { name: /^score/ }).click();
    const scores = (await table.locator('tbody tr').evaluateAll((rows) => {
      const header = [...rows[0]!.closest('table')!.querySelectorAll('th')].findIndex((th) => th.textContent?.startsWith('score'));
      return rows.map((row) => Number(row.children[header]!.textContent));
    })) as number[];
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    await expectLogMatchesStorage(runId);
    await page.screenshot({ path: '/tmp/dashboard-run-completed.png', fullPage: true });
    await page.screenshot({ path: '/tmp/dashboard-run-completed-top.png' }); // the README's picture
    await scan('run (completed)');

    // Clone and edit: the form again, with this run's parameters.
    await page.getByRole('link', { name: 'Clone and edit' }).click();
    await page.waitForURL((url) => url.pathname === '/' && url.searchParams.get('from') === runId);
    expect(await form.getByLabel('universe', { exact: true }).inputValue()).toBe('dow30');
    expect(await form.getByLabel('require_uptrend', { exact: true }).isChecked()).toBe(false);
    expect(await form.getByLabel('fetch_latency_ms', { exact: true }).inputValue()).toBe('120');
  });

  it('shows the server’s validation errors on the matching fields', async () => {
    await open('/?strategy=bullish_strategy');
    const form = page.getByRole('form', { name: 'Parameters' });
    await form.getByLabel('tickers', { exact: true }).fill('AAPL, msft');
    await form.getByLabel('rsi_max', { exact: true }).fill('150');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => form.getByLabel('rsi_max', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await form.getByLabel('tickers', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await form.getByLabel('universe', { exact: true }).getAttribute('aria-invalid')).toBeNull();
    // The message is the field's accessible description, and the page did not move.
    const description = await form.getByLabel('rsi_max', { exact: true }).evaluate((element) =>
      (element.getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent).join(' '),
    );
    expect(description).toMatch(/100/);
    expect(await page.locator('[data-field="tickers"] .field-error').innerText()).toMatch(/item 2/);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.screenshot({ path: '/tmp/dashboard-launch-errors.png', fullPage: true });
    await scan('launch (errors)');
  });

  it('shows a failing run’s error with its stderr tail, and every stdout and stderr line in the log', async () => {
    await open('/?strategy=fixture_exit_code');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\//);
    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Failed');
    await expect.poll(() => page.getByTestId('run-error').innerText()).toMatch(/EXIT_CODE.*exit code 3/s);
    await expect.poll(() => page.getByTestId('stderr-tail').innerText()).toContain('stderr line 5 of 5\nexiting with code 3');
    const log = page.getByRole('log', { name: 'Run log' });
    expect(await log.innerText()).toContain('stderr line 1 of 5');
    const failedId = runIdFromUrl();
    await expectLogMatchesStorage(failedId);
    await page.screenshot({ path: '/tmp/dashboard-run-failed.png', fullPage: true });
    await scan('run (failed)');

    // Re-run: the same parameters, a new run, its own page.
    await page.getByRole('button', { name: 'Re-run' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/runs/') && !url.pathname.endsWith(failedId));
    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Failed');

    const mixed = await execute(server.url, 'fixture_bad_output');
    await open(`/runs/${mixed.id}`);
    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Completed');
    const text = await log.innerText();
    expect(text).toContain('plain text that is not JSON'); // stdout
    expect(text).toContain('invalid utf-8 on stderr'); // stderr
    await expectLogMatchesStorage(mixed.id);
  });

  it('cancels a running run after a confirmation', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 400, delay_ms: 50 });
    await open(`/runs/${run.id}`);
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Running');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Cancelled');
    expect(await page.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
    expect(await page.getByRole('status').filter({ hasText: 'cancelled' }).count()).toBe(1);
    await page.screenshot({ path: '/tmp/dashboard-run-cancelled.png', fullPage: true });
  });

  it('shows every event exactly once after a reload mid-run', async () => {
    const run = await execute(server.url, 'fixture_flood', { lines: 20 });
    // Slow enough to reload in the middle: 80 steps, 100 ms apart, plus the flood run's lines.
    const slow = await execute(server.url, 'fixture_steps', { steps: 80, delay_ms: 100 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    await open(`/runs/${slow.id}`);
    await expect.poll(progressNow, { timeout: 30_000 }).toBeGreaterThan(15);
    await page.reload({ waitUntil: 'load' });
    const afterReload = await progressNow();
    await expect.poll(progressNow, { timeout: 10_000 }).toBeGreaterThan(afterReload);
    expect(await progressNow()).toBeLessThan(100); // still live after the reload
    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Completed');
    await expectLogMatchesStorage(slow.id);
  });

  it('reconnects by itself when the connection drops mid-run and resumes without gap or duplicate', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 80, delay_ms: 100 });
    await open(`/runs/${run.id}`);
    await expect.poll(progressNow, { timeout: 30_000 }).toBeGreaterThan(15);
    await expect.poll(() => page.getByTestId('connection').innerText()).toBe('Live');
    // A real fault: the server drops every open socket (the run goes on).
    await page.evaluate(() => {
      const badge = document.querySelector('[data-testid="connection"]')!;
      const seen = [badge.textContent];
      (window as unknown as { __connection: unknown[] }).__connection = seen;
      new MutationObserver(() => seen.push(badge.textContent)).observe(badge, { subtree: true, childList: true, characterData: true });
    });
    const before = await progressNow();
    server.app.http.server.closeAllConnections();
    await expect.poll(progressNow, { timeout: 15_000 }).toBeGreaterThan(before + 5);
    // It noticed, said so, and came back.
    expect(await page.evaluate(() => (window as unknown as { __connection: string[] }).__connection)).toEqual(['Live', 'Reconnecting…', 'Live']);
    expect(await page.getByTestId('connection').innerText()).toBe('Live');
    await expect.poll(() => status().innerText(), { timeout: 30_000 }).toBe('Completed');
    await expectLogMatchesStorage(run.id);
  });

  it('serves deep links on reload, and keeps the API’s own answers', async () => {
    const [run] = (await gql(server.url, CancelRunDocument, { id: '00000000-0000-0000-0000-000000000000' })).errors ?? [];
    expect(run?.extensions?.code).toBe('NOT_FOUND');
    const fresh = await context.newPage();
    await recordCspViolations(fresh);
    for (const path of ['/runs?view=finished', `/runs/${runIdFromUrl()}?line=3`, '/?strategy=fixture_steps']) {
      const response = await fresh.goto(`${server.url}${path}`);
      expect(response?.status(), path).toBe(200);
      expect(response?.headers()['cache-control']).toBe('no-cache');
      await fresh.reload();
      await fresh.getByRole('main').getByRole('heading').first().waitFor();
    }
    expect(await fresh.getByRole('heading', { name: 'Run fixture_steps' }).isVisible()).toBe(true);
    expect(await cspViolations(fresh)).toEqual([]);
    await fresh.close();

    const html = await fetch(`${server.url}/runs/anything`, { headers: { accept: 'text/html' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    const index = await html.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index)![1]!;
    const script = await fetch(`${server.url}${asset}`, { headers: { 'accept-encoding': 'br' } });
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toMatch(/immutable/);
    expect(script.headers.get('content-encoding')).toBe('br');
    for (const path of ['/api/nope', '/graphql/nope', '/healthz/x', '/metrics/x', '/assets/missing.js', '/favicon.ico']) {
      const answer = await fetch(`${server.url}${path}`, { headers: { accept: 'text/html' } });
      expect(answer.status, path).toBe(404);
      expect(answer.headers.get('content-type'), path).toMatch(/^application\/json/);
    }
    expect((await fetch(`${server.url}/runs`, { headers: { accept: 'application/json' } })).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('shows the queue in order with positions and reasons, running runs live, and cancels a selection', async () => {
    const first = await execute(server.url, 'fixture_steps', { steps: 600, delay_ms: 50 });
    await waitForStatus(server.url, first.id, ['RUNNING']);
    const second = await execute(server.url, 'fixture_steps', { steps: 5, delay_ms: 10 });
    const third = await execute(server.url, 'fixture_exit_code', { code: 0 });
    await open('/runs');
    const running = page.getByRole('table', { name: 'Running runs' });
    const queued = page.getByRole('table', { name: 'Queued runs, in the order they will start' });
    await running.locator(`tr[data-run-id="${first.id}"]`).waitFor();
    const bar = running.getByRole('progressbar');
    const before = Number(await bar.getAttribute('aria-valuenow'));
    await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), { timeout: 10_000 }).toBeGreaterThan(before);
    await expect.poll(() => queued.locator('tbody tr').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.runId))).toEqual([second.id, third.id]);
    expect(await queued.getByTestId('queue-position').allInnerTexts()).toEqual(['1', '2']);
    expect(await queued.locator('tbody tr').first().innerText()).toMatch(/MAX_CONCURRENT_RUNS|slot|running/i);
    // Estimated from the running run's progress and the finished fixture_steps runs' durations.
    await expect.poll(() => queued.getByTestId('estimated-start').allInnerTexts(), { timeout: 10_000 }).toEqual([expect.stringMatching(/^in about \d+:\d\d$/), expect.stringMatching(/^in about \d+:\d\d$/)]);
    await page.screenshot({ path: '/tmp/dashboard-runs.png', fullPage: true });
    await scan('runs');

    // A run cancelled elsewhere: the next one starts, and the page follows without a reload.
    await gql(server.url, CancelRunDocument, { id: first.id });
    const finished = page.getByRole('table', { name: 'Finished runs, newest first' });
    await expect.poll(() => finished.locator(`tr[data-run-id="${first.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => finished.locator(`tr[data-run-id="${second.id}"]`).count(), { timeout: 20_000 }).toBe(1);

    const fourth = await execute(server.url, 'fixture_steps', { steps: 600, delay_ms: 50 });
    const fifth = await execute(server.url, 'fixture_steps', { steps: 600, delay_ms: 50 });
    await waitForStatus(server.url, third.id, ['COMPLETED']);
    await running.locator(`tr[data-run-id="${fourth.id}"]`).waitFor({ timeout: 20_000 });
    await queued.locator(`tr[data-run-id="${fifth.id}"]`).waitFor();
    await running.locator(`tr[data-run-id="${fourth.id}"]`).getByRole('checkbox').check();
    await queued.locator(`tr[data-run-id="${fifth.id}"]`).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
    await expect.poll(async () => (await Promise.all([fourth, fifth].map((r) => waitForStatus(server.url, r.id, ['CANCELLED'])))).length, { timeout: 20_000 }).toBe(2);
    await expect.poll(() => finished.locator(`tr[data-run-id="${fifth.id}"]`).count(), { timeout: 20_000 }).toBe(1);
  });

  it('made no request to another host, met no CSP violation and threw no error on any page', async () => {
    const origin = new URL(server.url).origin;
    expect(requested.filter((url) => !isLocalUrl(url, origin))).toEqual([]);
    expect(requested.some((url) => url.startsWith(`${origin}/graphql/stream`))).toBe(true);
    expect(await cspViolations(page)).toEqual([]);
    expect(consoleErrors.filter((message) => /Content Security Policy/i.test(message))).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(Object.keys(accessibility)).toHaveLength(6);
  });
});
