// The shared live fan-out (src/events/run-event-hub.ts): one bus subscription per run however
// many clients watch it, each client still complete (every seq once, in order), late joiners
// included, a stalled client holding back nobody, and no MaxListenersExceededWarning.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { memoPerEvent, RunEventHub, runEventHub } from '../src/events/run-event-hub.js';
import { formatMessage } from '../src/http/rest/sse-stream.js';
import type { RunEvent } from '../src/model/run-event.js';
import { createInProcessEventBus } from '../src/pubsub/event-bus.js';
import { collectSubscription, sseClient, waitFor } from './helpers/graphql.js';
import { api, eventsOf, readSse } from './helpers/rest.js';
import { storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const progress = (seq: number): RunEvent =>
  ({ event_type: 'progress', run_id: 'r1', seq, timestamp: '2024-01-01T00:00:00.000Z', progress_percent: seq }) as RunEvent;

/** Every process warning raised while the test runs (the server runs in this process). */
function recordWarnings(): Error[] {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  onTestFinished(() => void process.off('warning', onWarning));
  return warnings;
}

describe('RunEventHub', () => {
  it('holds one bus listener per run for any number of streams, and hands all of them the same objects', () => {
    const bus = createInProcessEventBus();
    const hub = new RunEventHub(bus);
    const warnings = recordWarnings();
    const seen: Array<readonly RunEvent[]> = [];
    const stops = Array.from({ length: 1000 }, () => hub.subscribe('r1', (events) => seen.push(events)));
    const other = hub.subscribe('r2', () => {
      throw new Error('a failing stream must not cost the others their events');
    });
    expect(bus.listenerCount()).toBe(2);
    expect(hub.listeners('r1')).toBe(1000);

    const batch = [progress(1), progress(2)];
    bus.publish('runEvents', 'r2', batch);
    bus.publish('runEvents', 'r1', batch);
    expect(seen).toHaveLength(1000);
    expect(seen.every((events) => events === batch)).toBe(true);

    for (const stop of stops) stop();
    stops[0]!(); // twice is harmless
    other();
    expect(bus.listenerCount()).toBe(0);
    expect(hub.watchedRuns()).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('lets the in-process bus carry many listeners of one topic without a leak warning', async () => {
    const bus = createInProcessEventBus();
    const warnings = recordWarnings();
    const stops = Array.from({ length: 50 }, () => bus.subscribe('runUpdated', '', () => {}));
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    for (const stop of stops) stop();
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('serializes an SSE frame once per event object', () => {
    const event = progress(7);
    expect(formatMessage(event)).toBe(`id: 7\ndata: ${JSON.stringify(event)}\n\n`);
    expect(formatMessage(event)).toBe(formatMessage(event));
    let calls = 0;
    const derive = memoPerEvent((e) => (calls += 1, e.seq));
    for (let i = 0; i < 100; i += 1) derive(event);
    expect(calls).toBe(1);
  });
});

describe('many clients of one run', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ SSE_MAX_STREAMS_PER_RUN: '500' });
  });
  afterAll(() => server.close());

  async function start(parameters: Record<string, unknown>): Promise<string> {
    const { status, body } = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters } });
    expect(status).toBe(202);
    return body.run_id as string;
  }

  const RUN_EVENTS = 'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq eventType } }';

  it('gives 60 REST and 40 GraphQL-SSE clients, early and late, every event once in order through one bus listener', async () => {
    const warnings = recordWarnings();
    const graphql = sseClient(server.url, 'distinct');
    const single = sseClient(server.url, 'single');
    onTestFinished(() => {
      graphql.dispose();
      single.dispose();
    });
    // Status watchers too: every one is a listener of the bus's runUpdated topic.
    const updates = Array.from({ length: 15 }, () => {
      const iterator = graphql.iterate({ query: 'subscription { runUpdated { id status } }' });
      void iterator.next().catch(() => undefined);
      return iterator;
    });
    onTestFinished(async () => {
      await Promise.all(updates.map((u) => u.return?.()));
    });

    // About 4 s live: long enough for every early client to be attached on a busy machine.
    const runId = await start({ steps: 400, delay_ms: 10 });
    const sse = `${server.url}/api/strategies/sse/${runId}`;
    const rest = (afterSeq?: number) => readSse(sse, afterSeq === undefined ? {} : { headers: { 'last-event-id': String(afterSeq) } });
    const gqlSeqs = async (client: typeof graphql, afterSeq: number) =>
      (await collectSubscription<{ runEvents: { seq: number } }>(client, RUN_EVENTS, { runId, afterSeq })).map((p) => p.data!.runEvents.seq);

    const early = [
      ...Array.from({ length: 30 }, () => rest().then(eventsOf).then((events) => ({ afterSeq: 0, seqs: events.map((e) => e.seq), events }))),
      ...Array.from({ length: 15 }, () => gqlSeqs(graphql, 0).then((seqs) => ({ afterSeq: 0, seqs, events: [] }))),
      ...Array.from({ length: 5 }, () => gqlSeqs(single, 0).then((seqs) => ({ afterSeq: 0, seqs, events: [] }))),
    ];
    // While it is live, the run's clients share one bus subscription.
    await waitFor(async () => ((await api(server.url, `/api/strategies/runs/${runId}/status`)).body.last_seq >= 60 ? true : undefined));
    await waitFor(async () => (runEventHub(server.app.ctx.bus).listeners(runId) >= 40 ? true : undefined), 20_000, 'the early clients to attach');
    expect(runEventHub(server.app.ctx.bus).watchedRuns()).toBe(1);

    // Late joiners: from the start (history, then live) and from the middle (resume).
    const late = [
      ...Array.from({ length: 15 }, () => rest().then(eventsOf).then((events) => ({ afterSeq: 0, seqs: events.map((e) => e.seq), events }))),
      ...Array.from({ length: 15 }, () => rest(50).then(eventsOf).then((events) => ({ afterSeq: 50, seqs: events.map((e) => e.seq), events }))),
      ...Array.from({ length: 10 }, () => gqlSeqs(graphql, 0).then((seqs) => ({ afterSeq: 0, seqs, events: [] }))),
      ...Array.from({ length: 10 }, () => gqlSeqs(graphql, 50).then((seqs) => ({ afterSeq: 50, seqs, events: [] }))),
    ];
    const results = await Promise.all([...early, ...late]);
    const stored = await storedEvents(server.database.url, runId);
    const all = stored.map((e) => e.seq);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.length).toBeGreaterThanOrEqual(403); // queued, running, 400 steps, result, completed
    for (const { afterSeq, seqs, events } of results) {
      expect(seqs).toEqual(all.filter((seq) => seq > afterSeq));
      if (events.length) expect(events).toEqual(stored.filter((e) => e.seq > afterSeq));
    }

    await waitFor(() => (runEventHub(server.app.ctx.bus).listeners(runId) === 0 ? true : undefined), 10_000, 'streams to let go');
    expect(runEventHub(server.app.ctx.bus).watchedRuns()).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('does not let a stalled client hold back the others; it catches up complete later', async () => {
    const runId = await start({ steps: 20_000, delay_ms: 0 });
    const drainWaitsBefore = server.app.rest.drainWaits();
    // A client that stops reading: its socket and the server's buffer for it fill up.
    let received = '';
    const stalled = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${server.url}/api/strategies/sse/${runId}`, { headers: { accept: 'text/event-stream' } }, resolve).on('error', reject);
    });
    stalled.on('data', (chunk: Buffer) => (received += chunk.toString()));
    stalled.pause();
    const ended = new Promise<void>((resolve) => stalled.once('end', resolve));

    const fast = eventsOf(await readSse(`${server.url}/api/strategies/sse/${runId}`));
    const done = await waitForStatus(server.url, runId, ['COMPLETED']);
    expect(fast.map((e) => e.seq)).toEqual(Array.from({ length: done.lastSeq }, (_, i) => i + 1));
    // The fast client finished while the stalled one still had most of the run to read.
    expect(server.app.rest.drainWaits()).toBeGreaterThan(drainWaitsBefore);
    expect(received.length).toBeLessThan(fast.length * 100);

    stalled.resume();
    await ended;
    const seqs = [...received.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(seqs).toEqual(Array.from({ length: done.lastSeq }, (_, i) => i + 1));
  }, 120_000);
});
