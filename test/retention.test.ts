import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { scrapeMetrics } from './helpers/metrics.js';
import { FIXTURES_DIR } from './helpers/server.js';

let database: TestDatabase;
let client: pg.Client;
beforeAll(async () => {
  database = await createTestDatabase();
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await database.drop();
});

/** A run as an old server would have left it, with `events` stored events. */
async function seedRun(status: string, ages: { createdDaysAgo: number; finishedDaysAgo?: number }, events: number): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `insert into runs (strategy, parameters, status, created_at, started_at, finished_at, last_seq)
     values ('not_registered_here', '{}', $1, now() - make_interval(days => $2), now() - make_interval(days => $2),
             case when $3::int is null then null else now() - make_interval(days => $3::int) end, $4)
     returning id`,
    [status, ages.createdDaysAgo, ages.finishedDaysAgo ?? null, events],
  );
  const id = rows[0]!.id;
  await client.query(
    `insert into run_events (run_id, seq, event_type, payload)
     select $1::uuid, s, 'log', json_build_object('event_type', 'log', 'run_id', $1::text, 'seq', s, 'level', 'info', 'message', 'x')
     from generate_series(1, $2::int) s`,
    [id, events],
  );
  return id;
}

async function count(query: string, params: unknown[] = []): Promise<number> {
  return Number((await client.query<{ n: string }>(query, params)).rows[0]!.n);
}

function startInstance(env: Record<string, string>, lines: string[]): Promise<App> {
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    STRATEGIES_DIR: FIXTURES_DIR,
    LOG_LEVEL: 'info',
    RETENTION_BATCH_SIZE: '2',
    ...env,
  });
  const log = createLogger('info', { write: (line: string) => void lines.push(line) });
  // Runners off: the seeded RUNNING run must stay RUNNING (no recovery), and nothing executes.
  return createApp(config, { log, startRunner: false });
}

describe('retention (RETENTION_DAYS)', () => {
  it('two instances at once delete exactly the finished runs older than the limit, with their events, in batches', async () => {
    const old = [
      await seedRun('COMPLETED', { createdDaysAgo: 41, finishedDaysAgo: 40 }, 3),
      await seedRun('COMPLETED', { createdDaysAgo: 400, finishedDaysAgo: 400 }, 250),
      await seedRun('FAILED', { createdDaysAgo: 31, finishedDaysAgo: 31 }, 2),
      await seedRun('FAILED', { createdDaysAgo: 90, finishedDaysAgo: 35 }, 1),
      await seedRun('CANCELLED', { createdDaysAgo: 60, finishedDaysAgo: 60 }, 4),
      await seedRun('CANCELLED', { createdDaysAgo: 45, finishedDaysAgo: 45 }, 0),
      await seedRun('COMPLETED', { createdDaysAgo: 33, finishedDaysAgo: 32 }, 5),
    ];
    const kept = [
      await seedRun('COMPLETED', { createdDaysAgo: 40, finishedDaysAgo: 29 }, 3), // created long ago, finished recently
      await seedRun('FAILED', { createdDaysAgo: 1, finishedDaysAgo: 1 }, 2),
      await seedRun('QUEUED', { createdDaysAgo: 50 }, 1), // never active or queued runs, however old
      await seedRun('RUNNING', { createdDaysAgo: 50 }, 6),
      await seedRun('CANCELLING', { createdDaysAgo: 50 }, 7),
    ];
    // Idempotency keys outlive their 24 h window only until a sweep.
    await client.query(
      `insert into idempotency_keys (caller, key, request_hash, run_id, created_at) values
       (null, 'stale', 'h', $1, now() - interval '25 hours'), (null, 'fresh', 'h', $1, now() - interval '1 hour')`,
      [kept[1]],
    );
    const oldEvents = await count(`select count(*) as n from run_events where run_id = any($1)`, [old]);
    const keptEvents = await count(`select count(*) as n from run_events where run_id = any($1)`, [kept]);
    expect(oldEvents).toBe(265);

    const lines: string[][] = [[], []];
    const apps = await Promise.all([startInstance({}, lines[0]!), startInstance({}, lines[1]!)]);
    try {
      // Both sweep at start-up, at the same moment, in batches of 2 runs.
      const urls = await Promise.all(apps.map(async (app) => (await app.listen()).url));
      await Promise.all(apps.map((app) => app.retention.whenIdle()));

      const remaining = (await client.query<{ id: string }>('select id from runs')).rows.map((r) => r.id);
      expect(remaining.sort()).toEqual([...kept].sort());
      expect(await count('select count(*) as n from run_events')).toBe(keptEvents);
      expect(await count(`select count(*) as n from run_events where run_id = any($1)`, [old])).toBe(0);
      const statuses = (await client.query<{ status: string }>('select status from runs where id = any($1) order by number', [kept])).rows;
      expect(statuses.map((r) => r.status)).toEqual(['COMPLETED', 'FAILED', 'QUEUED', 'RUNNING', 'CANCELLING']);
      expect((await client.query<{ key: string }>('select key from idempotency_keys')).rows).toEqual([{ key: 'fresh' }]);

      // Between them the two counted every deleted run and event exactly once.
      const scrapes = await Promise.all(urls.map((url) => scrapeMetrics(url)));
      const sum = (name: string) => scrapes.reduce((total, m) => total + (m.value(name) ?? 0), 0);
      expect(sum('strategy_runner_retention_deleted_runs_total')).toBe(old.length);
      expect(sum('strategy_runner_retention_deleted_events_total')).toBe(oldEvents);

      // One log line per sweep that deleted something, with what it removed.
      const logged = lines.flat().map((line) => JSON.parse(line)).filter((entry) => /^retention: deleted/.test(entry.msg));
      expect(logged.length).toBeGreaterThanOrEqual(1);
      expect(logged.reduce((total, entry) => total + entry.runs, 0)).toBe(old.length);
      expect(logged.reduce((total, entry) => total + entry.events, 0)).toBe(oldEvents);
      expect(logged[0]).toMatchObject({ level: 30, retentionDays: 30 });

      // A later sweep (the hourly one) finds nothing more.
      const again = await Promise.all(apps.map((app) => app.retention.sweep()));
      expect(again).toEqual([
        { runs: 0, events: 0, idempotencyKeys: 0 },
        { runs: 0, events: 0, idempotencyKeys: 0 },
      ]);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
    }
  });

  it('RETENTION_DAYS=0 keeps everything', async () => {
    const ancient = await seedRun('COMPLETED', { createdDaysAgo: 3000, finishedDaysAgo: 3000 }, 2);
    const app = await startInstance({ RETENTION_DAYS: '0' }, []);
    try {
      await app.listen();
      expect(await app.retention.sweep()).toEqual({ runs: 0, events: 0, idempotencyKeys: 0 });
      expect(await count('select count(*) as n from run_events where run_id = $1', [ancient])).toBe(2);
    } finally {
      await app.close();
    }
  });

  it('uses the partial index on finished runs to find candidates', async () => {
    await client.query('set enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `explain select id from runs where status in ('COMPLETED', 'FAILED', 'CANCELLED') and finished_at < now() - make_interval(days => 30) order by finished_at limit 2`,
    );
    await client.query('reset enable_seqscan');
    expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('runs_finished_at_idx');
  });
});
