import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/graphql.js';
import { startServerProcess } from './helpers/process-server.js';
import { execute, getRun, livingProcessesInGroup, runPid, storedEvents, waitForStatus } from './helpers/runs.js';
import { FIXTURES_DIR, STRATEGIES_DIR } from './helpers/server.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

it('a server killed with SIGKILL mid-run: its strategy dies with it; on restart the run is FAILED / INTERRUPTED with its events, queued runs complete', async () => {
  const env = {
    DATABASE_URL: database.url,
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    MAX_CONCURRENT_RUNS: '1',
  };
  const first = await startServerProcess(env);
  const long = await execute(first.url, 'fixture_steps', { steps: 10_000, delay_ms: 20 });
  const queued = [
    await execute(first.url, 'fixture_steps', { steps: 5, delay_ms: 0 }),
    await execute(first.url, 'fixture_steps', { steps: 5, delay_ms: 0 }),
  ];
  await waitForStatus(first.url, long.id, ['RUNNING']);
  await waitFor(async () => ((await storedEvents(database.url, long.id)).length > 10 ? true : undefined));
  const pid = await runPid(database.url, long.id);
  expect(pid).toBeGreaterThan(0);

  first.child.kill('SIGKILL');
  await first.child;
  // The strategy dies with its server (parent-death signal and the process reaper), at once.
  await waitFor(async () => ((await livingProcessesInGroup(pid)).length === 0 ? true : undefined), 2000, 'the orphaned group to die');
  expect(await livingProcessesInGroup(pid)).toEqual([]);
  const eventsBefore = await storedEvents(database.url, long.id);

  const second = await startServerProcess(env);
  try {
    const recovered = await waitForStatus(second.url, long.id, ['FAILED'], 10_000);
    expect(recovered.error).toMatchObject({ code: 'INTERRUPTED' });
    expect(await livingProcessesInGroup(pid)).toEqual([]);

    const eventsAfter = await storedEvents(database.url, long.id);
    expect(eventsAfter.slice(0, eventsBefore.length)).toEqual(eventsBefore);
    expect(eventsAfter.map((e) => e.seq)).toEqual(eventsAfter.map((_, i) => i + 1));
    expect(eventsAfter.at(-1)).toMatchObject({ event_type: 'status', status: 'failed', error: { code: 'INTERRUPTED' } });

    for (const run of queued) {
      const done = await waitForStatus(second.url, run.id, ['COMPLETED'], 30_000);
      expect(done.result).toMatchObject({ steps: 5 });
    }
    expect((await getRun(second.url, long.id))!.status).toBe('FAILED');
  } finally {
    second.child.kill('SIGTERM');
    await second.child;
  }
});

it('SIGTERM: stops claiming, stops running children within the grace period and exits 0', async () => {
  const env = {
    DATABASE_URL: database.url,
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    SHUTDOWN_GRACE_MS: '500',
    CANCEL_GRACE_MS: '500',
  };
  const server = await startServerProcess(env);
  const run = await execute(server.url, 'fixture_steps', { steps: 10_000, delay_ms: 20 });
  await waitForStatus(server.url, run.id, ['RUNNING']);
  server.child.kill('SIGTERM');
  const result = await server.child;
  expect(result.exitCode).toBe(0);
  const events = await storedEvents(database.url, run.id);
  expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'failed', error: { code: 'INTERRUPTED' } });
});
