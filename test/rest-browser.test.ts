import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/rest.js';
import { storedEvents } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A real browser's own EventSource against the REST stream (CONTRACT §4). */
let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([
    startTestServer(),
    chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface PageResult {
  messages: Array<{ data: string; lastEventId: string; type: string }>;
  errors: number;
  readyState: number;
}

describe('EventSource in headless Chromium', () => {
  it('receives every event of a complete run with onmessage, then a reconnect gets 204 and it stays CLOSED', async () => {
    const { body } = await api(server.url, '/api/strategies/execute', {
      json: { strategy: 'bullish_strategy', parameters: { universe: 'dow30', fetch_latency_ms: 5 } },
    });
    const runId = body.run_id as string;
    const page = await browser.newPage();
    const streamRequests: Array<{ lastEventId: string | undefined; status: number | undefined }> = [];
    page.on('requestfinished', async (request) => {
      if (!request.url().includes('/api/strategies/sse/')) return;
      const response = await request.response();
      // allHeaders(): Last-Event-ID is added by the network stack, not visible in headers().
      streamRequests.push({ lastEventId: (await request.allHeaders())['last-event-id'], status: response?.status() });
    });
    page.on('requestfailed', (request) => {
      if (request.url().includes('/api/strategies/sse/')) streamRequests.push({ lastEventId: request.headers()['last-event-id'], status: undefined });
    });
    await page.goto(`${server.url}/healthz`);

    const result = await page.evaluate(
      (path) =>
        new Promise<PageResult>((resolve) => {
          const messages: PageResult['messages'] = [];
          let errors = 0;
          const source = new EventSource(path);
          source.onmessage = (event) => messages.push({ data: event.data, lastEventId: event.lastEventId, type: event.type });
          source.onerror = () => {
            errors += 1;
            // CLOSED: the browser gave up (204); CONNECTING: it will reconnect by itself.
            if (source.readyState === EventSource.CLOSED) resolve({ messages, errors, readyState: source.readyState });
          };
        }),
      `/api/strategies/sse/${runId}`,
    );

    const stored = await storedEvents(server.database.url, runId);
    expect(result.readyState).toBe(2);
    expect(result.messages.map((m) => JSON.parse(m.data))).toEqual(stored);
    expect(result.messages.map((m) => m.lastEventId)).toEqual(stored.map((e) => String(e.seq)));
    expect(result.messages.every((m) => m.type === 'message')).toBe(true);
    expect(stored.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
    // Coalesced by the reporter (one line per 100 ms, plus each stage's first and last).
    expect(stored.filter((e) => e.event_type === 'progress').length).toBeGreaterThanOrEqual(8);
    // The stream closing makes the browser reconnect once (error #1, CONNECTING); that reconnect
    // carries the last id and gets 204 (error #2, CLOSED). No third request, ever.
    expect(result.errors).toBe(2);
    await page.waitForTimeout(3500);
    expect(streamRequests.map((r) => r.lastEventId)).toEqual([undefined, String(stored.at(-1)!.seq)]);
    expect(streamRequests.at(-1)!.status).toBe(204);
    expect(server.app.rest.openStreams()).toBe(0);
    await page.close();
  });

  it('resumes through ?last_event_id and gets only the events after it', async () => {
    const { body } = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 30, delay_ms: 10 } } });
    const runId = body.run_id as string;
    const page = await browser.newPage();
    await page.goto(`${server.url}/healthz`);
    const result = await page.evaluate(
      (path) =>
        new Promise<PageResult>((resolve) => {
          const messages: PageResult['messages'] = [];
          const source = new EventSource(path);
          source.onmessage = (event) => messages.push({ data: event.data, lastEventId: event.lastEventId, type: event.type });
          source.onerror = () => {
            if (source.readyState === EventSource.CLOSED) resolve({ messages, errors: 0, readyState: source.readyState });
          };
        }),
      `/api/strategies/sse/${runId}?last_event_id=10`,
    );
    const stored = await storedEvents(server.database.url, runId);
    expect(result.messages.map((m) => JSON.parse(m.data))).toEqual(stored.slice(10));
    await page.close();
  });
});
