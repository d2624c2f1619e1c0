import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocalUrl, launchChromium } from './helpers/browser.js';
import { cspViolations, recordCspViolations, seriousAccessibilityViolations } from './helpers/dashboard.js';
import { api } from './helpers/rest.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { bearer, createToken } from './helpers/tokens.js';

// The dashboard with AUTH=tokens (CONTRACT §5, §7) in a real Chromium against the real server,
// with tokens made by the real CLI: sign-in (a bad token, then a good one), who is signed in,
// the controls each role may not use disabled with the reason, sign-out.

let server: TestServer;
let browser: Browser;
let page: Page;
const tokens: Record<'vera' | 'otto' | 'olga' | 'ada', string> = { vera: '', otto: '', olga: '', ada: '' };
const requested: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ AUTH: 'tokens' });
  tokens.vera = await createToken(server.database.url, 'vera', 'viewer');
  tokens.otto = await createToken(server.database.url, 'otto', 'operator');
  tokens.olga = await createToken(server.database.url, 'olga', 'operator');
  tokens.ada = await createToken(server.database.url, 'ada', 'admin');
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  page = await context.newPage();
  await recordCspViolations(page);
  context.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(String(error)));
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close();
});

const LONG_RUN = { steps: 400, delay_ms: 50 };

/** A run started over the API with `who`'s token. */
async function startRunAs(who: keyof typeof tokens): Promise<string> {
  const { status, body } = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: LONG_RUN }, headers: bearer(tokens[who]) });
  expect(status).toBe(202);
  return body.run_id;
}

const signInHeading = () => page.getByRole('heading', { name: 'Sign in' });
const status = () => page.getByTestId('run-status');
const cancelButton = () => page.getByRole('button', { name: 'Cancel', exact: true });

async function signIn(token: string): Promise<void> {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The button's accessible description (what a screen reader says after its name). */
function description(button: Locator): Promise<string> {
  return button.evaluate((element) =>
    (element.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim(),
  );
}

async function expectDisabledBecause(button: Locator, reason: RegExp): Promise<void> {
  await expect.poll(() => button.isDisabled()).toBe(true);
  expect(await button.getAttribute('title')).toMatch(reason);
  expect(await description(button)).toMatch(reason);
}

async function signOut(): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await signInHeading().waitFor();
}

describe('the dashboard with AUTH=tokens', () => {
  it('asks for a token, says when it is wrong, and signs in with a good one', async () => {
    await page.goto(`${server.url}/`);
    await signInHeading().waitFor();
    await page.screenshot({ path: '/tmp/dashboard-signin.png', fullPage: true });
    expect(await seriousAccessibilityViolations(page)).toEqual([]);
    expect(await cspViolations(page)).toEqual([]);

    await signIn('srt_not-a-real-token');
    const error = page.getByRole('alert');
    await expect.poll(() => error.innerText()).toMatch(/token|not accepted|invalid/i);
    expect(await page.getByLabel('Access token').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: '/tmp/dashboard-signin-error.png', fullPage: true });
    expect(await seriousAccessibilityViolations(page)).toEqual([]);

    await signIn(tokens.vera);
    await page.getByTestId('session').waitFor();
    expect(await page.getByTestId('session').innerText()).toMatch(/Signed in as vera \(viewer\)/);
    // The page behind it loads with the cookie: the strategies, then a strategy's form.
    const strategies = page.getByRole('list', { name: 'Strategies' });
    await expect.poll(() => strategies.getByRole('link').count()).toBeGreaterThan(3);
    // The cookie is HttpOnly: no script on the page can read it.
    expect(await page.evaluate(() => document.cookie)).toBe('');
  });

  it('a viewer sees Run, Cancel and Re-run disabled with the reason, and the run live', async () => {
    await page.goto(`${server.url}/?strategy=fixture_steps`);
    await expectDisabledBecause(page.getByRole('button', { name: 'Run', exact: true }), /viewer/);

    const runId = await startRunAs('otto');
    await page.goto(`${server.url}/runs/${runId}`);
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Running');
    // Subscriptions work over the cookie: the progress moves, the badge says Live.
    const progress = page.getByRole('progressbar', { name: 'Run progress' });
    const before = Number(await progress.getAttribute('aria-valuenow'));
    await expect.poll(async () => Number(await progress.getAttribute('aria-valuenow')), { timeout: 10_000 }).toBeGreaterThan(before);
    expect(await page.getByTestId('connection').innerText()).toBe('Live');
    expect(await page.locator('.fact', { hasText: 'Started by' }).innerText()).toMatch(/otto/);
    await expectDisabledBecause(cancelButton(), /viewer/);
    await expectDisabledBecause(page.getByRole('button', { name: 'Re-run' }), /viewer/);
    expect(await page.getByRole('button', { name: 'Clone and edit' }).isDisabled()).toBe(true);
    await page.screenshot({ path: '/tmp/dashboard-signin-viewer.png', fullPage: true });

    // The queue view: who started each run, and no cancelling for a viewer.
    await page.goto(`${server.url}/runs`);
    const row = page.getByRole('table', { name: 'Running runs' }).locator(`tr[data-run-id="${runId}"]`);
    await row.waitFor();
    expect(await row.getByTestId('started-by').innerText()).toBe('otto');
    await expectDisabledBecause(row.getByRole('button', { name: /^Cancel run/ }), /viewer/);
    expect(await row.getByRole('checkbox').isDisabled()).toBe(true);
    await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST', json: {}, headers: bearer(tokens.ada) });
  });

  it('sign out returns to the sign-in screen, and the session is gone', async () => {
    await signOut();
    const answer = await page.evaluate(async () => (await fetch('/api/session', { credentials: 'same-origin' })).status);
    expect(answer).toBe(401);
    await page.reload();
    await signInHeading().waitFor();
  });

  it('an operator runs and cancels its own run, but not another operator’s', async () => {
    await signIn(tokens.otto);
    await page.getByTestId('session').waitFor();
    expect(await page.getByTestId('session').innerText()).toMatch(/Signed in as otto \(operator\)/);
    await page.goto(`${server.url}/?strategy=fixture_steps`);
    const form = page.getByRole('form', { name: 'Parameters' });
    await form.getByLabel('steps', { exact: true }).fill(String(LONG_RUN.steps));
    const run = page.getByRole('button', { name: 'Run', exact: true });
    expect(await run.isDisabled()).toBe(false);
    expect(await run.getAttribute('title')).toBeNull();
    // A cookie-authenticated state change from this page passes the server's same-origin checks.
    await run.click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Running');
    expect(await page.locator('.fact', { hasText: 'Started by' }).innerText()).toMatch(/otto/);
    expect(await cancelButton().isDisabled()).toBe(false);
    await cancelButton().click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Cancelled');

    const olgas = await startRunAs('olga');
    await page.goto(`${server.url}/runs/${olgas}`);
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toMatch(/Queued|Running/);
    await expectDisabledBecause(cancelButton(), /olga.*admin/);
    expect(await page.getByRole('button', { name: 'Re-run' }).isDisabled()).toBe(false);
    await page.screenshot({ path: '/tmp/dashboard-signin-operator.png', fullPage: true });
    await signOut();

    // An admin cancels anyone's run.
    await signIn(tokens.ada);
    await page.getByTestId('session').waitFor();
    expect(await page.getByTestId('session').innerText()).toMatch(/Signed in as ada \(admin\)/);
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toMatch(/Queued|Running/);
    expect(await cancelButton().isDisabled()).toBe(false);
    await cancelButton().click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await expect.poll(() => status().innerText(), { timeout: 20_000 }).toBe('Cancelled');
    const stored = await api(server.url, `/api/strategies/runs/${olgas}/status`, { headers: bearer(tokens.vera) });
    expect(stored.body.started_by).toBe('olga');
    expect(stored.body.cancelled_by).toBe('ada');
    await page.screenshot({ path: '/tmp/dashboard-signin-admin.png', fullPage: true });
  });

  it('met no CSP violation, threw no error and asked no other host', async () => {
    expect(await cspViolations(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
    const origin = new URL(server.url).origin;
    expect(requested.filter((url) => !isLocalUrl(url, origin))).toEqual([]);
  });
});
