import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/graphql.js';
import { execute, getRun, waitForStatus, type RunView } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Three instances on one database, each with MAX_CONCURRENT_RUNS=2 (its CPU) and a cluster-wide
 * MAX_CONCURRENT_RUNS_TOTAL=3; fixture_quota's manifest says max_concurrent 1 (a vendor quota).
 * Runs are submitted to all three at once, so claims race; a sampler reads the database all
 * along and no limit is ever exceeded.
 */
let database: TestDatabase;
let servers: TestServer[] = [];
let sampler: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  const env = { MAX_CONCURRENT_RUNS: '2', MAX_CONCURRENT_RUNS_TOTAL: '3', QUEUE_POLL_MS: '100' };
  servers = await Promise.all([1, 2, 3].map(() => startTestServer(env, { database })));
  sampler = new pg.Client({ connectionString: database.url });
  await sampler.connect();
});

afterAll(async () => {
  await sampler?.end();
  for (const server of servers) await server.close({ keepDatabase: true });
  await database?.drop();
});

interface Sample {
  total: number;
  byOwner: Map<string, number>;
  byStrategy: Map<string, number>;
}

/** Samples the running runs every 20 ms until `until` settles. */
async function sampleWhile(until: Promise<unknown>): Promise<Sample[]> {
  const samples: Sample[] = [];
  let done = false;
  void until.finally(() => (done = true));
  while (!done) {
    const { rows } = await sampler.query<{ owner: string; strategy: string }>(
      `select owner, strategy from runs where status in ('RUNNING', 'CANCELLING')`,
    );
    const count = (key: 'owner' | 'strategy') => {
      const map = new Map<string, number>();
      for (const row of rows) map.set(row[key], (map.get(row[key]) ?? 0) + 1);
      return map;
    };
    samples.push({ total: rows.length, byOwner: count('owner'), byStrategy: count('strategy') });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return samples;
}

const maxOf = (values: Iterable<number>) => Math.max(0, ...values);

async function submitEverywhere(strategy: string, count: number, parameters: Record<string, unknown>): Promise<RunView[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => execute(servers[i % servers.length]!.url, strategy, parameters)));
}

it('MAX_CONCURRENT_RUNS_TOTAL: 3 instances × 2 slots, 8 runs, never more than 3 at once cluster-wide (and it is reached)', async () => {
  const runs = await submitEverywhere('fixture_steps', 8, { steps: 12, delay_ms: 100 });
  const finished = Promise.all(runs.map((run) => waitForStatus(servers[0]!.url, run.id, ['COMPLETED', 'FAILED'], 60_000)));
  const sampling = sampleWhile(finished);
  // While the cluster is full, a queued run says why it waits (whichever instance is asked).
  const reason = await waitFor(async () => {
    for (const [i, run] of runs.entries()) {
      const view = await getRun(servers[i % servers.length]!.url, run.id);
      if (view?.status === 'QUEUED' && view.waitReason?.includes('MAX_CONCURRENT_RUNS_TOTAL=3')) return view.waitReason;
    }
    return undefined;
  }, 20_000, 'a queued run to report the cluster-wide limit');
  expect(reason).toMatch(/3 runs are running across all instances/);
  const samples = await sampling;
  expect((await finished).map((r) => r.status)).toEqual(Array(8).fill('COMPLETED'));
  expect(maxOf(samples.map((s) => s.total))).toBe(3);
  expect(maxOf(samples.flatMap((s) => [...s.byOwner.values()]))).toBeLessThanOrEqual(2);
  // More than one instance executed runs: the limit is shared, not one instance doing it all.
  expect(new Set(samples.flatMap((s) => [...s.byOwner.keys()])).size).toBeGreaterThan(1);
});

it('manifest max_concurrent: at most one fixture_quota run at a time across instances, while other strategies use the free slots', async () => {
  const quota = await submitEverywhere('fixture_quota', 4, { steps: 8, delay_ms: 100 });
  const others = await submitEverywhere('fixture_steps', 2, { steps: 30, delay_ms: 100 });
  const finished = Promise.all(
    [...quota, ...others].map((run) => waitForStatus(servers[0]!.url, run.id, ['COMPLETED', 'FAILED'], 60_000)),
  );
  const sampling = sampleWhile(finished);
  const reason = await waitFor(async () => {
    for (const run of quota) {
      const view = await getRun(servers[0]!.url, run.id);
      if (view?.status === 'QUEUED' && view.waitReason?.includes('max_concurrent')) return view.waitReason;
    }
    return undefined;
  }, 20_000, 'a queued quota run to report its strategy limit');
  expect(reason).toMatch(/at most 1 of its runs at once across all instances/);
  const samples = await sampling;
  expect((await finished).every((r) => r.status === 'COMPLETED')).toBe(true);
  expect(maxOf(samples.map((s) => s.byStrategy.get('fixture_quota') ?? 0))).toBe(1);
  expect(maxOf(samples.map((s) => s.byStrategy.get('fixture_steps') ?? 0))).toBe(2);
  expect(maxOf(samples.map((s) => s.total))).toBeLessThanOrEqual(3);
});
