import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { waitFor } from './helpers/graphql.js';
import { api, eventsOf, readSse } from './helpers/rest.js';
import { storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function start(strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const { status, body } = await api(server.url, '/api/strategies/execute', { json: { strategy, parameters } });
  expect(status).toBe(202);
  return body.run_id as string;
}

const sseUrl = (runId: string, query = '') => `${server.url}/api/strategies/sse/${runId}${query}`;

interface CollectedEventSource {
  events: Array<{ data: any; lastEventId: string; type: string }>;
  /** Every request EventSource made, with the Last-Event-ID it sent and the status it got. */
  requests: Array<{ lastEventId: string | null; status: number }>;
  /** Resolves when EventSource gave up for good (readyState CLOSED after an error). */
  closed: Promise<void>;
  source: EventSource;
}

/** The `eventsource` package (WHATWG EventSource) with real fetch, requests recorded. */
function openEventSource(url: string): CollectedEventSource {
  const requests: CollectedEventSource['requests'] = [];
  const recordingFetch: FetchLike = async (input, init) => {
    const response = await fetch(input, init as RequestInit);
    const headers = new Headers(init?.headers as HeadersInit);
    requests.push({ lastEventId: headers.get('last-event-id'), status: response.status });
    return response;
  };
  const source = new EventSource(url, { fetch: recordingFetch });
  const events: CollectedEventSource['events'] = [];
  source.onmessage = (event) => events.push({ data: JSON.parse(event.data), lastEventId: event.lastEventId, type: event.type });
  const closed = new Promise<void>((resolve) => {
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) resolve();
    };
  });
  return { events, requests, closed, source };
}

describe('GET /api/strategies/sse/{run_id}', () => {
  it('gives the eventsource client every event in order, in the stored format, then 204 stops it for good', async () => {
    const runId = await start('bullish_strategy', { universe: 'dow30', fetch_latency_ms: 5 });
    const client = openEventSource(sseUrl(runId));
    await client.closed;
    expect(client.source.readyState).toBe(EventSource.CLOSED);

    const stored = await storedEvents(server.database.url, runId);
    expect(client.events.map((e) => e.data)).toEqual(stored);
    expect(client.events.map((e) => e.lastEventId)).toEqual(stored.map((e) => String(e.seq)));
    expect(client.events.every((e) => e.type === 'message')).toBe(true);
    expect(stored.map((e) => e.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(stored[0]).toMatchObject({ event_type: 'status', status: 'queued', run_id: runId });
    expect(stored.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
    const progress = stored.filter((e) => e.event_type === 'progress');
    // Coalesced by the reporter (one line per 100 ms, plus each stage's first and last).
    expect(progress.length).toBeGreaterThanOrEqual(8);
    expect(progress[0]).toEqual(
      expect.objectContaining({ run_id: runId, timestamp: expect.any(String), stage: expect.any(String), progress_percent: expect.any(Number) }),
    );
    expect(stored.filter((e) => e.event_type === 'result')).toHaveLength(1);

    // One stream, then exactly one reconnect (with the last id) answered 204: no reconnect loop.
    expect(client.requests).toEqual([
      { lastEventId: null, status: 200 },
      { lastEventId: String(stored.at(-1)!.seq), status: 204 },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(client.requests).toHaveLength(2);
  });

  it('frames each event as an unnamed message: retry hint first, id = seq, one line of JSON, SSE headers', async () => {
    const runId = await start('fixture_steps', { steps: 20, delay_ms: 5 });
    const read = await readSse(sseUrl(runId));
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(read.headers.get('cache-control')).toBe('no-cache');
    expect(read.headers.get('connection')).toBe('keep-alive');
    expect(read.headers.get('x-accel-buffering')).toBe('no');
    expect(read.raw.startsWith('retry: 3000\n\n')).toBe(true);
    expect(read.retry).toBe(3000);
    expect(read.endedByServer).toBe(true);

    const stored = await storedEvents(server.database.url, runId);
    expect(read.messages.every((m) => m.event === undefined)).toBe(true);
    expect(read.messages.map((m) => m.id)).toEqual(stored.map((e) => String(e.seq)));
    expect(eventsOf(read)).toEqual(stored);
    // Each message is exactly `id: N\ndata: <one line>\n\n`.
    for (const event of stored) expect(read.raw).toContain(`id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
    expect(read.raw.endsWith(`data: ${JSON.stringify(stored.at(-1))}\n\n`)).toBe(true);
    expect(stored.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
  });

  it('answers 204 to a finished run with nothing newer, and replays the rest after an older Last-Event-ID', async () => {
    const runId = await start('fixture_steps', { steps: 10, delay_ms: 0 });
    const done = await waitForStatus(server.url, runId, ['COMPLETED']);
    const none = await fetch(sseUrl(runId), { headers: { 'last-event-id': String(done.lastSeq) } });
    expect(none.status).toBe(204);
    expect(await none.text()).toBe('');
    expect((await fetch(sseUrl(runId, `?last_event_id=${done.lastSeq + 5}`))).status).toBe(204);

    const stored = await storedEvents(server.database.url, runId);
    const rest = await readSse(sseUrl(runId), { headers: { 'last-event-id': '4' } });
    expect(eventsOf(rest)).toEqual(stored.slice(4));
    // The header wins over the query parameter (EventSource sends the header on reconnect).
    const both = await readSse(sseUrl(runId, '?last_event_id=1'), { headers: { 'last-event-id': '7' } });
    expect(eventsOf(both)).toEqual(stored.slice(7));
    const viaQuery = await readSse(sseUrl(runId, '?last_event_id=9'));
    expect(eventsOf(viaQuery)).toEqual(stored.slice(9));
  });

  it('resumes a client that dropped mid-run with exactly the missed events, during and after the run', async () => {
    const runId = await start('fixture_steps', { steps: 80, delay_ms: 25 });
    // First connection: drop after 5 events, while the run goes on.
    const first = await readSse(sseUrl(runId), { stopWhen: (r) => r.messages.length >= 5 });
    expect(first.endedByServer).toBe(false);
    const status = await api(server.url, `/api/strategies/runs/${runId}/status`);
    expect(['queued', 'running']).toContain(status.body.status);
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Second: resume with Last-Event-ID during the run, drop again after 10 more.
    const second = await readSse(sseUrl(runId), {
      headers: { 'last-event-id': first.messages.at(-1)!.id! },
      stopWhen: (r) => r.messages.length >= 10,
    });
    expect(second.endedByServer).toBe(false);
    const mid = await api(server.url, `/api/strategies/runs/${runId}/status`);
    expect(mid.body.status).toBe('running');

    // Third: after the run ended.
    await waitForStatus(server.url, runId, ['COMPLETED']);
    const third = await readSse(sseUrl(runId), { headers: { 'last-event-id': second.messages.at(-1)!.id! } });
    expect(third.endedByServer).toBe(true);

    const stored = await storedEvents(server.database.url, runId);
    const received = [...eventsOf(first), ...eventsOf(second), ...eventsOf(third)];
    expect(received).toEqual(stored);
    expect(new Set(received.map((e) => e.seq)).size).toBe(received.length);
    // And then there is nothing more.
    const after = await fetch(sseUrl(runId), { headers: { 'last-event-id': third.messages.at(-1)!.id! } });
    expect(after.status).toBe(204);
    await waitFor(() => (server.app.rest.openStreams() === 0 ? true : undefined), 5000, 'streams to close');
  });

  it('lets an eventsource client that joins mid-run see history then live, with no gap', async () => {
    const runId = await start('fixture_steps', { steps: 60, delay_ms: 20 });
    await waitForStatus(server.url, runId, ['RUNNING']);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const client = openEventSource(sseUrl(runId));
    await client.closed;
    expect(client.events.map((e) => e.data)).toEqual(await storedEvents(server.database.url, runId));
  });

  it('serves ten concurrent streams of one run the full sequence, and leaves nothing behind', async () => {
    const baseline = server.app.ctx.bus.listenerCount();
    const runId = await start('fixture_steps', { steps: 40, delay_ms: 20 });
    await waitForStatus(server.url, runId, ['RUNNING']);
    const clients = Array.from({ length: 10 }, () => openEventSource(sseUrl(runId)));
    onTestFinished(() => clients.forEach((c) => c.source.close()));
    // A stream counts from the moment it is admitted; its heartbeat starts once its headers are out.
    await waitFor(
      () => (server.app.rest.openStreams(runId) === 10 && server.app.rest.heartbeatTimers() === 10 ? true : undefined),
      10_000,
      '10 open streams with their heartbeats',
    );
    await Promise.all(clients.map((c) => c.closed));

    const stored = await storedEvents(server.database.url, runId);
    expect(stored.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
    for (const client of clients) {
      expect(client.events.map((e) => e.data)).toEqual(stored);
      expect(client.source.readyState).toBe(EventSource.CLOSED);
    }
    await waitFor(() => (server.app.ctx.bus.listenerCount() === baseline ? true : undefined), 5000, 'bus listeners back to baseline');
    expect(server.app.rest.openStreams()).toBe(0);
    expect(server.app.rest.heartbeatTimers()).toBe(0);
  });

  it('releases the bus listener and heartbeat of every client that disconnects mid-run', async () => {
    const runId = await start('fixture_steps', { steps: 1000, delay_ms: 20 });
    await waitForStatus(server.url, runId, ['RUNNING']);
    const baseline = server.app.ctx.bus.listenerCount();
    const clients = Array.from({ length: 10 }, () => openEventSource(sseUrl(runId)));
    onTestFinished(async () => {
      clients.forEach((c) => c.source.close());
      await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST' });
    });
    await waitFor(() => (clients.every((c) => c.events.length >= 3) ? true : undefined), 10_000, 'every client to get events');
    expect(server.app.rest.openStreams(runId)).toBe(10);
    expect(server.app.rest.heartbeatTimers()).toBe(10);
    // The ten streams share the run's one bus listener (src/events/run-event-hub.ts).
    expect(server.app.ctx.bus.listenerCount()).toBe(baseline + 1);

    for (const client of clients) client.source.close();
    await waitFor(() => (server.app.rest.openStreams() === 0 ? true : undefined), 5000, 'streams to close');
    await waitFor(() => (server.app.ctx.bus.listenerCount() === baseline ? true : undefined), 5000, 'bus listeners back to baseline');
    expect(server.app.rest.heartbeatTimers()).toBe(0);
    // The run itself goes on: the clients only stopped watching it.
    expect((await api(server.url, `/api/strategies/runs/${runId}/status`)).body.status).toBe('running');
  });

  it('keeps a slow reader complete: a flood of events arrives in full, in order, through backpressure', async () => {
    const runId = await start('fixture_flood', { lines: 20_000 });
    await waitForStatus(server.url, runId, ['COMPLETED', 'FAILED'], 60_000);
    const waitsBefore = server.app.rest.drainWaits();
    const response = await fetch(sseUrl(runId));
    const reader = response.body!.getReader();
    // Read slowly at first so the server's socket buffer fills and it must wait for 'drain'.
    let text = '';
    const decoder = new TextDecoder();
    for (let i = 0; ; i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (i < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const stored = await storedEvents(server.database.url, runId);
    expect(stored.length).toBeGreaterThan(10_000);
    expect(ids).toEqual(stored.map((e) => e.seq));
    expect(server.app.rest.drainWaits()).toBeGreaterThan(waitsBefore);
    expect(server.app.rest.openStreams()).toBe(0);
  });
});
