import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectSubscription, sseClient, type SseMode } from './helpers/graphql.js';
import { print } from 'graphql';
import { RunEventsDocument } from './documents.js';
import { execute, getRun, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const SUBSCRIPTION = print(RunEventsDocument);

type Event = { seq: number; eventType: string; progressPercent: number | null; status: string | null; stage: string | null; data: unknown };

describe.each<SseMode>(['distinct', 'single'])('runEvents through graphql-sse (%s connections mode)', (mode) => {
  it('streams a bullish_strategy run from queued to COMPLETED, exactly as stored', async () => {
    const run = await execute(server.url, 'bullish_strategy', { universe: 'dow30', fetch_latency_ms: 5 });
    const client = sseClient(server.url, mode);
    const payloads = await collectSubscription<{ runEvents: Event }>(client, SUBSCRIPTION, { runId: run.id });
    client.dispose();

    expect(payloads.every((p) => !p.errors)).toBe(true);
    const events = payloads.map((p) => p.data!.runEvents);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toMatchObject({ eventType: 'STATUS', status: 'QUEUED' });
    expect(events.at(-1)).toMatchObject({ eventType: 'STATUS', status: 'COMPLETED' });
    const progress = events.filter((e) => e.eventType === 'PROGRESS').map((e) => e.progressPercent ?? 0);
    // Coalesced by the reporter (one line per 100 ms, plus each stage's first and last).
    expect(progress.length).toBeGreaterThanOrEqual(8);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(Math.max(...progress)).toBe(100);
    const stages = [...new Set(events.filter((e) => e.stage).map((e) => e.stage))];
    expect(stages).toEqual(['initialization', 'data_download', 'analysis', 'ranking', 'results']);
    const results = events.filter((e) => e.eventType === 'RESULT');
    expect(results).toHaveLength(1);

    const stored = await getRun(server.url, run.id);
    expect(stored).toMatchObject({ status: 'COMPLETED', exitCode: 0, progressPercent: 100 });
    expect(stored!.result).toEqual(results[0]!.data);
    expect((stored!.result as { candidates: unknown[] }).candidates.length).toBeGreaterThan(0);
    const table = await storedEvents(server.database.url, run.id);
    expect(table.map((e) => e.seq)).toEqual(events.map((e) => e.seq));
  });

  it('replays exactly k+1..n of a finished run with afterSeq, then completes', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 30, delay_ms: 0 });
    const done = await waitForStatus(server.url, run.id, ['COMPLETED']);
    const k = 7;
    const client = sseClient(server.url, mode);
    const payloads = await collectSubscription<{ runEvents: Event }>(client, SUBSCRIPTION, { runId: run.id, afterSeq: k });
    client.dispose();
    const seqs = payloads.map((p) => p.data!.runEvents.seq);
    expect(seqs).toEqual(Array.from({ length: done.lastSeq - k }, (_, i) => k + 1 + i));
  });

  it('gives a subscriber joining mid-run exactly the stored sequence', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 60, delay_ms: 30 });
    await waitForStatus(server.url, run.id, ['RUNNING']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const client = sseClient(server.url, mode);
    const payloads = await collectSubscription<{ runEvents: Event }>(client, SUBSCRIPTION, { runId: run.id });
    client.dispose();
    const received = payloads.map((p) => p.data!.runEvents.seq);
    const stored = (await storedEvents(server.database.url, run.id)).map((e) => e.seq);
    expect(received).toEqual(stored);
    expect(payloads.at(-1)!.data!.runEvents.status).toBe('COMPLETED');
  });
});
