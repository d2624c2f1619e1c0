import { afterAll, beforeAll, expect, it } from 'vitest';
import { print } from 'graphql';
import type { App } from '../src/app.js';
import type { TestDatabase } from './helpers/database.js';
import { TEST_REDIS_URL } from './helpers/database-urls.js';
import { CancelRunDocument, RunEventsDocument } from './documents.js';
import { collectSubscription, gql, sseClient } from './helpers/graphql.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTwoInstances, type TwoInstances } from './helpers/instances.js';

/**
 * Two instances sharing one PostgreSQL and the machine's Redis: `worker` executes runs,
 * `api` only serves clients. Everything a client of `api` sees crosses Redis.
 */
let instances: TwoInstances;
let worker: App;
let api: App;
let workerUrl: string;
let apiUrl: string;
let database: TestDatabase;

beforeAll(async () => {
  instances = await startTwoInstances({ REDIS_URL: TEST_REDIS_URL });
  ({ worker, api, workerUrl, apiUrl, database } = instances);
});

afterAll(() => instances?.close());

it('a client of one instance follows, live and complete, a run executed by another', async () => {
  const run = await execute(apiUrl, 'fixture_steps', { steps: 40, delay_ms: 25 });
  await waitForStatus(apiUrl, run.id, ['RUNNING']);
  const client = sseClient(apiUrl, 'distinct');
  const received: number[] = [];
  const payloads = await collectSubscription<{ runEvents: { seq: number; status: string | null } }>(
    client,
    print(RunEventsDocument),
    { runId: run.id },
    (p) => received.push(p.data!.runEvents.seq),
  );
  client.dispose();
  expect(payloads.at(-1)!.data!.runEvents.status).toBe('COMPLETED');
  expect(received).toEqual((await storedEvents(database.url, run.id)).map((e) => e.seq));
  // It really ran on the worker: the api instance has no runner.
  expect(api.ctx.runner.activeRunIds).toEqual([]);
});

it('runUpdated on one instance reports the status changes made by the other', async () => {
  const client = sseClient(apiUrl, 'single');
  const statuses: string[] = [];
  const watching = collectSubscription<{ runUpdated: { id: string; status: string } }>(
    client,
    'subscription { runUpdated { id status } }',
    {},
    (p) => {
      statuses.push(p.data!.runUpdated.status);
      if (p.data!.runUpdated.status === 'COMPLETED') client.dispose();
    },
  ).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await execute(workerUrl, 'fixture_steps', { steps: 2, delay_ms: 0 });
  await Promise.race([watching, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  client.dispose();
  expect(statuses).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
});

it('a cancel sent to one instance stops the process running on the other', async () => {
  const run = await execute(apiUrl, 'fixture_steps', { steps: 10_000, delay_ms: 20 });
  await waitForStatus(apiUrl, run.id, ['RUNNING']);
  expect(worker.ctx.runner.activeRunIds).toContain(run.id);
  const response = await gql(apiUrl, CancelRunDocument, { id: run.id });
  expect(response.data!.cancelRun.status).toBe('CANCELLING');
  const done = await waitForStatus(apiUrl, run.id, ['CANCELLED', 'FAILED', 'COMPLETED'], 10_000);
  expect(done.status).toBe('CANCELLED');
  expect(worker.ctx.runner.activeRunIds).not.toContain(run.id);
});

it('losing Redis costs at most a live message, never the process (no unhandled rejection)', async () => {
  const { createRedisEventBus } = await import('../src/pubsub/redis-event-bus.js');
  const { pino } = await import('pino');
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const bus = await createRedisEventBus(TEST_REDIS_URL, log);
  const received: unknown[] = [];
  const off = bus.subscribe('queueChanged', '', (message) => received.push(message));
  await new Promise((resolve) => setTimeout(resolve, 100));
  bus.publish('queueChanged', '', {});
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(received).toEqual([{}]);
  await bus.close();
  // Every call on a closed connection fails inside ioredis; none may escape.
  bus.publish('queueChanged', '', {});
  off();
  bus.subscribe('queueChanged', 'other', () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(warnings.join('\n')).toMatch(/Redis (PUBLISH|SUBSCRIBE|UNSUBSCRIBE)[^"]* failed/);
});
