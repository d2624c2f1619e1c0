import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.js';
import { expectedLogSeqs, logSeqs } from './helpers/dashboard.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The run page's log keeps a window of lines in memory (100,000; 200 here, through the
// dashboard's test setting in localStorage) and pages the lines before it back in from
// storage when the reader scrolls to its top: in the end every line of the run, once, in order.

const WINDOW = 200;

let server: TestServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  await page.addInitScript((window) => localStorage.setItem('strategy-runner.logWindow', String(window)), WINDOW);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await server?.close();
});

/** seqs of the rows in view. */
const visibleSeqs = () =>
  page.evaluate(() => {
    const log = document.querySelector<HTMLElement>('[role="log"]')!;
    const box = log.getBoundingClientRect();
    return [...log.querySelectorAll<HTMLElement>('[data-seq]')]
      .filter((row) => {
        const r = row.getBoundingClientRect();
        return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
      })
      .map((row) => Number(row.dataset.seq));
  });

describe('the log window', () => {
  it('opens at the tail with the window in memory, and pages older lines from storage on scroll-up, none twice, none missing', async () => {
    // 3,000 output lines: half are progress events with no message (no log line), so pages of
    // events and pages of lines differ, as they do in real runs.
    const run = await execute(server.url, 'fixture_flood', { lines: 3000 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    const expected = expectedLogSeqs(await storedEvents(server.database.url, run.id));
    expect(expected.length).toBeGreaterThan(WINDOW * 5);

    await page.goto(`${server.url}/runs/${run.id}`);
    const count = page.getByTestId('log-count');
    await expect.poll(() => count.innerText(), { timeout: 20_000 }).toBe(`${WINDOW} lines`);
    await expect.poll(() => page.getByTestId('log-older').innerText()).toBe(`${expected.length - WINDOW} older lines: scroll up to load them`);
    // At the tail: the run's last lines.
    expect((await visibleSeqs()).at(-1)).toBe(expected.at(-1));

    // Scrolled to the top, the lines before the window arrive above it and the reader stays
    // on the line they were reading.
    const topBefore = expected[expected.length - WINDOW]!;
    await page.getByRole('log').evaluate((log) => (log.scrollTop = 0));
    await expect.poll(() => count.innerText()).not.toBe(`${WINDOW} lines`);
    await expect.poll(async () => (await visibleSeqs())[0]).toBe(topBefore);
    await page.screenshot({ path: '/tmp/dashboard-log-paging.png' });

    // Keep going up until the start of the run: everything, once, in order.
    for (let i = 0; i < 20 && (await page.getByTestId('log-older').count()) > 0; i++) {
      const before = await count.innerText();
      await page.getByRole('log').evaluate((log) => (log.scrollTop = 0));
      await expect.poll(async () => (await page.getByTestId('log-older').count()) === 0 || (await count.innerText()) !== before).toBe(true);
    }
    expect(await page.getByTestId('log-older').count()).toBe(0);
    expect(await count.innerText()).toBe(`${expected.length} lines`);
    expect(await logSeqs(page)).toEqual(expected);
    expect(pageErrors).toEqual([]);
  });

  it('downloads the whole log, the lines before the window included', async () => {
    const run = await execute(server.url, 'fixture_flood', { lines: 1000 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    const expected = expectedLogSeqs(await storedEvents(server.database.url, run.id));
    await page.goto(`${server.url}/runs/${run.id}`);
    await expect.poll(() => page.getByTestId('log-count').innerText(), { timeout: 20_000 }).toBe(`${WINDOW} lines`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download log' }).click()]);
    const text = await (await download.createReadStream()).toArray();
    const seqs = Buffer.concat(text as Buffer[]).toString('utf8').trim().split('\n').map((line) => Number(line.split('\t')[0]));
    expect(seqs).toEqual(expected);
  });
});
