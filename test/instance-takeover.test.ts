import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/graphql.js';
import { startServerProcess, type ServerProcess } from './helpers/process-server.js';
import { execute, getRun, livingProcessesInGroup, runPid, storedEvents, waitForStatus } from './helpers/runs.js';
import { FIXTURES_DIR, STRATEGIES_DIR } from './helpers/server.js';

/**
 * Several instances as real processes on one database, with the production liveness settings
 * (HEARTBEAT_MS 2 s, TAKEOVER_AFTER_MS 10 s): a dead instance's runs are taken over within
 * 15 s, its strategies die with it, and a live but starved instance keeps its runs.
 */
let database: TestDatabase;
const started: ServerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  for (const server of started.splice(0)) {
    server.child.kill('SIGCONT');
    server.child.kill('SIGKILL');
    await server.child;
  }
});
afterAll(() => database.drop());

async function instance(): Promise<ServerProcess> {
  const server = await startServerProcess({
    DATABASE_URL: database.url,
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    EVENT_FLUSH_MS: '20',
  });
  started.push(server);
  return server;
}

/** A run executing on `owner`, started before any other instance exists (so `owner` claims it). */
async function runningOn(owner: ServerProcess, strategy: string, parameters: Record<string, unknown>) {
  const run = await execute(owner.url, strategy, parameters);
  await waitForStatus(owner.url, run.id, ['RUNNING']);
  await waitFor(async () => ((await storedEvents(database.url, run.id)).length >= 3 ? true : undefined));
  return { run, pid: await runPid(database.url, run.id) };
}

it('an instance SIGKILLed mid-run: its strategy group (grandchild included) dies with it, and another instance ends the run FAILED / INTERRUPTED within 15 s', async () => {
  const a = await instance();
  const { run, pid } = await runningOn(a, 'fixture_grandchild', {});
  const b = await instance();
  expect((await livingProcessesInGroup(pid)).length).toBe(2); // the script and its grandchild

  const killedAt = Date.now();
  a.child.kill('SIGKILL');
  await a.child;
  // No other instance has to notice: the parent-death signal and the reaper act at once.
  await waitFor(async () => ((await livingProcessesInGroup(pid)).length === 0 ? true : undefined), 2000, 'the group to die');
  const failed = await waitForStatus(b.url, run.id, ['FAILED'], 15_000);
  const tookMs = Date.now() - killedAt;
  expect(tookMs).toBeLessThan(15_000);
  expect(failed.error).toMatchObject({ code: 'INTERRUPTED' });
  const events = await storedEvents(database.url, run.id);
  expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'failed', error: { code: 'INTERRUPTED' } });
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
});

it('an instance frozen for good (alive, silent) is taken over within 15 s on the database clock; when it wakes it kills its strategy and writes nothing more', async () => {
  const a = await instance();
  const { run, pid } = await runningOn(a, 'fixture_steps', { steps: 100_000, delay_ms: 20 });
  const b = await instance();

  const frozenAt = Date.now();
  a.child.kill('SIGSTOP');
  const failed = await waitForStatus(b.url, run.id, ['FAILED'], 16_000);
  const tookMs = Date.now() - frozenAt;
  // Not before its heartbeat went TAKEOVER_AFTER_MS stale, and within the goal.
  expect(tookMs).toBeGreaterThan(8_000);
  expect(tookMs).toBeLessThan(15_000);
  expect(failed.error).toMatchObject({ code: 'INTERRUPTED' });
  // Same machine: the instance that took over also killed the leftover group.
  await waitFor(async () => ((await livingProcessesInGroup(pid)).length === 0 ? true : undefined), 3000, 'the group to die');
  const atTakeover = await storedEvents(database.url, run.id);

  a.child.kill('SIGCONT');
  // Awake again: its heartbeat finds the run is no longer its own (fencing); it stores nothing.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  expect(await storedEvents(database.url, run.id)).toEqual(atTakeover);
  expect(atTakeover.at(-1)).toMatchObject({ event_type: 'status', status: 'failed' });
  expect(a.output()).toMatch(/taken over by another instance/);
  // And it is a healthy instance again: it serves and executes.
  const next = await execute(a.url, 'fixture_steps', { steps: 3, delay_ms: 0 });
  expect((await waitForStatus(a.url, next.id, ['COMPLETED', 'FAILED'], 20_000)).status).toBe('COMPLETED');
});

it('a starved instance is not dead: 6 s without any CPU (three missed heartbeats), and its run still completes on it', async () => {
  const a = await instance();
  const { run } = await runningOn(a, 'fixture_steps', { steps: 300, delay_ms: 40 });
  const b = await instance();

  a.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 6000));
  // Meanwhile the other instance judged it (every 2 s) and left it alone.
  expect((await getRun(b.url, run.id))!.status).toBe('RUNNING');
  a.child.kill('SIGCONT');

  const done = await waitForStatus(b.url, run.id, ['COMPLETED', 'FAILED'], 30_000);
  expect(done.status).toBe('COMPLETED');
  expect(done.result).toMatchObject({ steps: 300 });
  const events = await storedEvents(database.url, run.id);
  expect(events.filter((e) => e.event_type === 'progress')).toHaveLength(300);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
});
