import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery } from './helpers/database.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it('/healthz answers while the process lives; /readyz reports the database', async () => {
  expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${server.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready', database: 'postgres' });
});

it('/readyz answers 503 while the database refuses connections, and 200 again after', async () => {
  const name = server.database.name;
  await adminQuery(`alter database ${name} with allow_connections false`);
  try {
    await adminQuery(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the pool notices its clients are gone
    const refused = await fetch(`${server.url}/readyz`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  } finally {
    await adminQuery(`alter database ${name} with allow_connections true`);
  }
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});

it('a database connection dropped in the middle of a transaction fails that work only, never the process', async () => {
  const { sql } = await import('kysely');
  const outcome = await server.app.database.db
    .transaction()
    .execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      await adminQuery(`select pg_terminate_backend(${rows[0]!.pid})`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the client learns while checked out
    })
    .then(
      () => 'committed',
      () => 'failed',
    );
  expect(outcome).toBe('failed');
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});
