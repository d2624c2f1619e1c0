import pg from 'pg';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunEventsDocument } from './documents.js';
import { sseClient, waitFor } from './helpers/graphql.js';
import { scrapeMetrics } from './helpers/metrics.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '1' });
});
afterAll(() => server.close());

async function sql<T>(query: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    return (await client.query(query)).rows as T[];
  } finally {
    await client.end();
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

describe('GET /metrics', () => {
  it('counts real runs, events, the queue, running runs and open streams, with the right values', async () => {
    const done = [
      await execute(server.url, 'fixture_steps', { steps: 5, delay_ms: 10 }),
      await execute(server.url, 'fixture_steps', { steps: 3, delay_ms: 10 }),
      await execute(server.url, 'fixture_exit_code', { code: 3 }),
    ];
    for (const run of done) await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED']);

    // One run executing (one step, then a minute's pause: quiet, so counts hold still), one
    // waiting behind it (one slot), streams open on the first.
    const hanging = await execute(server.url, 'fixture_steps', { steps: 2, delay_ms: 60_000 });
    await waitForStatus(server.url, hanging.id, ['RUNNING']);
    const waiting = await execute(server.url, 'fixture_steps', { steps: 2 });
    const sse = new AbortController();
    const stream = await fetch(`${server.url}/api/strategies/sse/${hanging.id}`, { signal: sse.signal });
    expect(stream.status).toBe(200);
    const graphqlStream = sseClient(server.url, 'distinct');
    const received: unknown[] = [];
    const unsubscribe = graphqlStream.subscribe(
      { query: print(RunEventsDocument), variables: { runId: hanging.id } },
      { next: (value) => void received.push(value), error: () => {}, complete: () => {} },
    );
    await waitFor(() => (received.length >= 3 ? true : undefined), 10_000, 'the subscription to replay the run');
    // The hanging run's progress event is stored (and counted) before we compare with storage.
    await waitFor(async () => ((await sql<{ n: number }>(`select count(*)::int as n from run_events where run_id = '${hanging.id}'`))[0]!.n >= 3 ? true : undefined));

    const m = await scrapeMetrics(server.url);
    // Pinned series (CONTRACT §8).
    expect(m.value('strategy_runner_runs_total', { status: 'completed' })).toBe(2);
    expect(m.value('strategy_runner_runs_total', { status: 'failed' })).toBe(1);
    expect(m.value('strategy_runner_runs_total', { status: 'queued' })).toBe(5);
    expect(m.value('strategy_runner_runs_total', { status: 'running' })).toBe(4);
    expect(m.value('strategy_runner_runs_total', { status: 'cancelled' })).toBe(0);
    expect(m.value('strategy_runner_queue_depth')).toBe(1);
    expect(m.value('strategy_runner_runs_running')).toBe(1);
    expect(m.value('strategy_runner_sse_connections')).toBe(1);
    expect(m.value('strategy_runner_graphql_subscriptions')).toBe(1);

    const [counts] = await sql<{ total: number; output: number }>(
      `select count(*)::int as total, (count(*) filter (where event_type <> 'status'))::int as output from run_events`,
    );
    const { total, output } = counts!;
    expect(m.value('strategy_runner_events_total')).toBe(total);
    expect(m.value('strategy_runner_events_total', { event_type: 'status' })).toBe(total - output);
    expect(m.value('strategy_runner_events_total', { event_type: 'progress' })).toBe(5 + 3 + 1);
    // Every output line's delivery is timed once; batches add up to the same events.
    expect(m.value('strategy_runner_event_delivery_seconds_count')).toBe(output);
    expect(m.value('strategy_runner_event_delivery_seconds_bucket', { le: '+Inf' })).toBe(output);
    expect(m.value('strategy_runner_store_batch_size_sum')).toBe(output);
    expect(m.value('strategy_runner_store_commit_seconds_count')).toBe(m.value('strategy_runner_store_batch_size_count'));

    expect(m.value('strategy_runner_run_duration_seconds_count', { strategy: 'fixture_steps', status: 'completed' })).toBe(2);
    expect(m.value('strategy_runner_run_duration_seconds_count', { strategy: 'fixture_exit_code', status: 'failed' })).toBe(1);
    expect(m.value('strategy_runner_queue_wait_seconds_count', { strategy: 'fixture_steps' })).toBe(3);
    expect(m.value('strategy_runner_queue_wait_seconds_count', { strategy: 'fixture_exit_code' })).toBe(1);

    // Process defaults and GraphQL operation metrics (the executes above, by operation type).
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.value('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.value('graphql_envelop_request', { operationType: 'mutation' })).toBeGreaterThanOrEqual(5);
    expect(m.value('graphql_envelop_phase_parse_count', { operationType: 'subscription' })).toBe(1);
    expect(m.value('graphql_yoga_http_duration_count', { operationType: 'mutation', statusCode: '200' })).toBeGreaterThanOrEqual(5);

    // No run id (or any other unbounded value) in any label.
    for (const sample of m.samples) expect(Object.values(sample.labels).join(' ')).not.toMatch(UUID);
    expect(m.samples.some((s) => 'operationName' in s.labels)).toBe(false);

    // Streams closed and runs ended: the gauges follow.
    unsubscribe();
    graphqlStream.dispose();
    sse.abort();
    await fetch(`${server.url}/api/strategies/runs/${waiting.id}/cancel`, { method: 'POST' });
    await fetch(`${server.url}/api/strategies/runs/${hanging.id}/cancel`, { method: 'POST' });
    await waitForStatus(server.url, hanging.id, ['CANCELLED']);
    const after = await waitFor(async () => {
      const now = await scrapeMetrics(server.url);
      return now.value('strategy_runner_sse_connections') === 0 && now.value('strategy_runner_graphql_subscriptions') === 0 ? now : undefined;
    }, 10_000, 'the stream gauges to drop');
    expect(after.value('strategy_runner_queue_depth')).toBe(0);
    expect(after.value('strategy_runner_runs_running')).toBe(0);
    expect(after.value('strategy_runner_runs_total', { status: 'cancelled' })).toBe(2);
    expect(after.value('strategy_runner_runs_total', { status: 'cancelling' })).toBe(1);
  });
});
