import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/graphql.js';
import { api, eventsOf, readSse } from './helpers/rest.js';
import { storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The per-run stream cap and the heartbeat, with both set low. */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ SSE_MAX_STREAMS_PER_RUN: '2', SSE_HEARTBEAT_MS: '200' });
});
afterAll(() => server.close());

async function start(strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const { body } = await api(server.url, '/api/strategies/execute', { json: { strategy, parameters } });
  return body.run_id as string;
}

const sseUrl = (runId: string) => `${server.url}/api/strategies/sse/${runId}`;

describe('REST SSE limits', () => {
  it('sends ": ping" comment lines every SSE_HEARTBEAT_MS while a run is quiet', async () => {
    // fixture_hang reports once, then sleeps until its 2 s timeout fails it.
    const runId = await start('fixture_hang', {});
    const read = await readSse(sseUrl(runId));
    expect(read.endedByServer).toBe(true);
    const pings = read.comments.filter((c) => c === ' ping');
    expect(pings.length).toBeGreaterThanOrEqual(4);
    expect(read.raw).toMatch(/\n\n: ping\n\n/);
    // The heartbeats never disturb the events.
    expect(eventsOf(read)).toEqual(await storedEvents(server.database.url, runId));
    expect(eventsOf(read).at(-1)).toMatchObject({ event_type: 'status', status: 'failed' });
    expect(server.app.rest.heartbeatTimers()).toBe(0);
  });

  it('answers 429 beyond SSE_MAX_STREAMS_PER_RUN open streams of one run, and frees the slot on close', async () => {
    const runId = await start('fixture_steps', { steps: 1000, delay_ms: 20 });
    await waitForStatus(server.url, runId, ['RUNNING']);
    const holders = [new EventSource(sseUrl(runId)), new EventSource(sseUrl(runId))];
    await waitFor(() => (server.app.rest.openStreams(runId) === 2 ? true : undefined), 10_000, 'two open streams');

    const refused = await api(server.url, `/api/strategies/sse/${runId}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.body).toEqual({ error: { code: 'TOO_MANY_STREAMS', message: expect.stringContaining('at most 2') } });
    expect(server.app.rest.openStreams(runId)).toBe(2);

    // The cap is per run: another run's stream is served.
    const other = await start('fixture_steps', { steps: 3, delay_ms: 0 });
    const otherRead = await readSse(sseUrl(other));
    expect(otherRead.status).toBe(200);
    expect(eventsOf(otherRead).at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });

    holders[0]!.close();
    await waitFor(() => (server.app.rest.openStreams(runId) === 1 ? true : undefined), 5000, 'a slot to free');
    const admitted = await readSse(sseUrl(runId), { stopWhen: (r) => r.messages.length >= 3 });
    expect(admitted.status).toBe(200);
    const seqs = eventsOf(admitted).map((e) => e.seq);
    expect(seqs.length).toBeGreaterThanOrEqual(3);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));

    holders[1]!.close();
    await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST' });
    await waitFor(() => (server.app.rest.openStreams() === 0 ? true : undefined), 5000, 'streams to close');
    expect(server.app.rest.heartbeatTimers()).toBe(0);
  });
});
