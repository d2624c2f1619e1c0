import { afterAll, beforeAll, expect, it } from 'vitest';
import { print } from 'graphql';
import { RunEventsDocument } from './documents.js';
import { collectSubscription, sseClient, waitFor } from './helpers/graphql.js';
import { startTwoInstances, type TwoInstances } from './helpers/instances.js';
import { startPrivateRedis, type PrivateRedis } from './helpers/redis-server.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';

/**
 * Two instances on a Redis of the test's own, which is SIGKILLed mid-run and restarted 5 s
 * later. A client of the instance that does not execute the run keeps getting every event
 * once, in order (storage is polled every BUS_FALLBACK_POLL_MS while Redis is away), and live
 * delivery through Redis is back within a second of Redis returning.
 */
let redis: PrivateRedis;
let instances: TwoInstances;

beforeAll(async () => {
  redis = await startPrivateRedis();
  instances = await startTwoInstances({ REDIS_URL: redis.url });
});

afterAll(async () => {
  await instances?.close();
  await redis?.close();
});

it('Redis down for 5 s: every event once and in order, none later than a second; live delivery back within 1 s of Redis returning', async () => {
  const { apiUrl, api, worker, database } = instances;
  const run = await execute(apiUrl, 'fixture_steps', { steps: 120, delay_ms: 100 });
  await waitForStatus(apiUrl, run.id, ['RUNNING']);
  const client = sseClient(apiUrl, 'single');
  const received: Array<{ seq: number; at: number; timestamp: string }> = [];
  const watching = collectSubscription<{ runEvents: { seq: number; timestamp: string } }>(
    client,
    print(RunEventsDocument),
    { runId: run.id },
    (p) => received.push({ seq: p.data!.runEvents.seq, at: Date.now(), timestamp: p.data!.runEvents.timestamp }),
  );
  await waitFor(() => (received.length >= 10 ? true : undefined));

  await redis.kill();
  const killedAt = Date.now();
  await waitFor(() => (api.ctx.bus.connected() ? undefined : true), 5000, 'the bus to notice');
  await new Promise((resolve) => setTimeout(resolve, 5000 - (Date.now() - killedAt)));
  expect(received.some((e) => Date.parse(e.timestamp) > killedAt + 1000)).toBe(true); // still flowing

  await redis.restart();
  const restartedAt = Date.now();
  // Live again: a message published by the executing instance reaches the other through Redis.
  let liveAt: number | undefined;
  const off = api.ctx.bus.subscribe('runEvents', 'probe', () => (liveAt ??= Date.now()));
  await waitFor(
    () => {
      if (liveAt !== undefined) return true;
      worker.ctx.bus.publish('runEvents', 'probe', []);
      return undefined;
    },
    5000,
    'a live message across instances',
  );
  off();
  expect(api.ctx.bus.connected()).toBe(true);
  expect(liveAt! - restartedAt).toBeLessThan(1000);

  await watching;
  client.dispose();
  const stored = (await storedEvents(database.url, run.id)).map((e) => e.seq);
  expect(received.map((e) => e.seq)).toEqual(stored);
  expect(stored.at(-1)).toBeGreaterThan(120);
  // Before, during and after the outage, no event reached the client later than a second.
  const delays = received.slice(1).map((e) => e.at - Date.parse(e.timestamp));
  const duringOutage = received.filter((e) => Date.parse(e.timestamp) > killedAt && Date.parse(e.timestamp) < restartedAt);
  expect(duringOutage.length).toBeGreaterThan(20);
  expect(Math.max(...delays)).toBeLessThan(1000);
});
