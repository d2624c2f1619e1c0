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

async function instance(strategiesDir = `${STRATEGIES_DIR}:${FIXTURES_DIR}`): Promise<ServerProcess> {
  const server = await startServerProcess({ DATABASE_URL: database.url, STRATEGIES_DIR: strategiesDir, EVENT_FLUSH_MS: '20' });
  started.push(server);
  return server;
}

/**
 * Another live instance that has only the bundled strategies, so it never claims the fixture
 * runs of these tests (an instance claims only strategies it has) but judges every run's owner.
 */
async function observer(): Promise<ServerProcess & { startedAt: number }> {
  const server = await instance(STRATEGIES_DIR);
  return Object.assign(server, { startedAt: Date.now() });
}

/**
 * An instance judges heartbeats only once it has had the database for TAKEOVER_AFTER_MS (after
 * starting or after an outage, the owners get that long to refresh theirs): wait for that.
 */
async function judging(server: { startedAt: number }): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, server.startedAt + 10_500 - Date.now())));
}

/** A run executing on `owner`. */
async function runningOn(owner: ServerProcess, strategy: string, parameters: Record<string, unknown>) {
  const run = await execute(owner.url, strategy, parameters);
  await waitForStatus(owner.url, run.id, ['RUNNING']);
  await waitFor(async () => ((await storedEvents(database.url, run.id)).length >= 3 ? true : undefined));
  return { run, pid: await runPid(database.url, run.id) };
}

it("an instance SIGKILLed mid-run takes its strategy's whole process group with it (grandchild included), with no other instance to help", async () => {
  const a = await instance();
  const { pid } = await runningOn(a, 'fixture_grandchild', {});
  expect((await livingProcessesInGroup(pid)).length).toBe(2); // the script and its grandchild
  a.child.kill('SIGKILL');
  await a.child;
  // Nobody else is running: the parent-death signal and the reaper act on their own, at once.
  await waitFor(async () => ((await livingProcessesInGroup(pid)).length === 0 ? true : undefined), 2000, 'the group to die');
});

it("another instance ends a SIGKILLed instance's run FAILED / INTERRUPTED within 15 s, with a terminal status event", async () => {
  const [a, b] = await Promise.all([instance(), observer()]);
  const { run } = await runningOn(a, 'fixture_steps', { steps: 100_000, delay_ms: 20 });
  const killedAt = Date.now();
  a.child.kill('SIGKILL');
  await a.child;
  const failed = await waitForStatus(b.url, run.id, ['FAILED'], 15_000);
  expect(Date.now() - killedAt).toBeLessThan(15_000);
  expect(failed.error).toMatchObject({ code: 'INTERRUPTED' });
  const events = await storedEvents(database.url, run.id);
  expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'failed', error: { code: 'INTERRUPTED' } });
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
});

it('an instance frozen for good (alive, silent) is taken over within 15 s on the database clock; when it wakes it kills its strategy and writes nothing more', async () => {
  const [a, b] = await Promise.all([instance(), observer()]);
  const { run, pid } = await runningOn(a, 'fixture_steps', { steps: 100_000, delay_ms: 20 });
  await judging(b);

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

it('a starved instance is not dead: 5 s without any CPU (at least two missed heartbeats), and its run still completes on it', async () => {
  const [a, b] = await Promise.all([instance(), observer()]);
  const { run } = await runningOn(a, 'fixture_steps', { steps: 300, delay_ms: 40 });
  await judging(b);

  a.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 5000));
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

it('a graceful stop (SIGTERM) still gives a running strategy its grace period: it finishes and the run COMPLETES', async () => {
  const a = await instance();
  const { run } = await runningOn(a, 'fixture_steps', { steps: 30, delay_ms: 100 });
  a.child.kill('SIGTERM');
  const exited = await a.child;
  expect(exited.exitCode).toBe(0);
  const events = await storedEvents(database.url, run.id);
  expect(events.filter((e) => e.event_type === 'progress')).toHaveLength(30);
  expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
});
