import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { CancelRunDocument } from './documents.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { gql } from './helpers/graphql.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { FIXTURES_DIR, STRATEGIES_DIR } from './helpers/server.js';

/**
 * Two instances sharing a database but no Redis: the cancel message never reaches the instance
 * running the run (the bus is at-most-once, here never-once). Its heartbeat notices the
 * CANCELLING status in the database and stops the run all the same.
 */
let database: TestDatabase;
let worker: App;
let api: App;
let apiUrl: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    LOG_LEVEL: 'silent',
    CANCEL_GRACE_MS: '500',
    QUEUE_POLL_MS: '200',
  });
  worker = await createApp(config);
  api = await createApp(config, { startRunner: false });
  await worker.listen();
  apiUrl = (await api.listen()).url;
});

afterAll(async () => {
  await api?.close();
  await worker?.close();
  await database?.drop();
});

it('a cancel whose message is lost still stops the run, through the heartbeat', async () => {
  const run = await execute(apiUrl, 'fixture_steps', { steps: 100_000, delay_ms: 20 });
  await waitForStatus(apiUrl, run.id, ['RUNNING']);
  expect(worker.ctx.runner.activeRunIds).toContain(run.id);
  const response = await gql(apiUrl, CancelRunDocument, { id: run.id });
  expect(response.data!.cancelRun.status).toBe('CANCELLING');
  const done = await waitForStatus(apiUrl, run.id, ['CANCELLED', 'FAILED', 'COMPLETED'], 20_000);
  expect(done.status).toBe('CANCELLED');
  expect(worker.ctx.runner.activeRunIds).not.toContain(run.id);
});
