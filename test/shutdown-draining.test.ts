import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// SIGTERM (app.close()) drains: from its first moment the server says it is not ready and
// takes no new run, while it keeps serving reads and lets the running children finish.

let server: TestServer | undefined;
afterAll(() => server?.database.drop());

it('while draining: /readyz 503, execute 503 SHUTTING_DOWN on both faces, reads still served, running run finishes', async () => {
  server = await startTestServer({ SHUTDOWN_GRACE_MS: '20000' });
  const { url } = server;
  // About 3 s of work: the drain waits for it.
  const run = await execute(url, 'fixture_steps', { steps: 30, delay_ms: 100 });
  await waitForStatus(url, run.id, ['RUNNING']);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);

  const closed = server.app.close();
  const ready = await fetch(`${url}/readyz`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'shutting down' });
  // Still alive: only readiness changes.
  expect((await fetch(`${url}/healthz`)).status).toBe(200);

  const rest = await api(url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 1 } } });
  expect(rest.status).toBe(503);
  expect(rest.body).toEqual({ error: { code: 'SHUTTING_DOWN', message: expect.stringContaining('shutting down') } });
  const graphql = await gql(url, 'mutation { executeStrategy(input: { strategy: "fixture_steps" }) { id } }');
  expect(graphql.errors?.[0]?.extensions?.code).toBe('SHUTTING_DOWN');

  // Clients still watch their run end.
  const status = await api(url, `/api/strategies/runs/${run.id}/status`);
  expect(status.status).toBe(200);
  expect(['running', 'completed']).toContain(status.body.status);
  const listed = await api(url, '/api/strategies/runs');
  expect(listed.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([run.id]);

  await closed;
  // The running run finished within the grace period; nothing else was queued.
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; status: string }>('select id, status from runs');
    expect(rows).toEqual([{ id: run.id, status: 'COMPLETED' }]);
  } finally {
    await client.end();
  }
});
