import { afterAll, beforeAll, expect, it } from 'vitest';
import { CancelRunDocument } from './documents.js';
import { gql } from './helpers/graphql.js';
import { startTwoInstances, type TwoInstances } from './helpers/instances.js';
import { execute, waitForStatus } from './helpers/runs.js';

/**
 * Two instances sharing a database but no Redis: the cancel message never reaches the instance
 * running the run (the bus is at-most-once, here never-once). Its heartbeat notices the
 * CANCELLING status in the database and stops the run all the same.
 */
let instances: TwoInstances;

beforeAll(async () => {
  instances = await startTwoInstances({ CANCEL_GRACE_MS: '500' });
});

afterAll(() => instances?.close());

it('a cancel whose message is lost still stops the run, through the heartbeat', async () => {
  const { apiUrl, worker } = instances;
  const run = await execute(apiUrl, 'fixture_steps', { steps: 100_000, delay_ms: 20 });
  await waitForStatus(apiUrl, run.id, ['RUNNING']);
  expect(worker.ctx.runner.activeRunIds).toContain(run.id);
  const response = await gql(apiUrl, CancelRunDocument, { id: run.id });
  expect(response.data!.cancelRun.status).toBe('CANCELLING');
  const done = await waitForStatus(apiUrl, run.id, ['CANCELLED', 'FAILED', 'COMPLETED'], 20_000);
  expect(done.status).toBe('CANCELLED');
  expect(worker.ctx.runner.activeRunIds).not.toContain(run.id);
});
