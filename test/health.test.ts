import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_DATABASE_URL } from './helpers/database-urls.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

it('/healthz answers while the process lives; /readyz reports the database', async () => {
  expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
  const ready = await fetch(`${server.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready', database: 'postgres' });
});

it('/readyz answers 503 while the database refuses connections, and 200 again after', async () => {
  const name = server.database.name;
  await admin(`alter database ${name} with allow_connections false`);
  try {
    await admin(`select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}'`);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the pool notices its clients are gone
    const refused = await fetch(`${server.url}/readyz`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ status: 'unavailable', reason: 'database unreachable' });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  } finally {
    await admin(`alter database ${name} with allow_connections true`);
  }
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});

it('a database connection dropped in the middle of a transaction fails that work only, never the process', async () => {
  const { sql } = await import('kysely');
  const outcome = await server.app.database.db
    .transaction()
    .execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      await admin(`select pg_terminate_backend(${rows[0]!.pid})`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the client learns while checked out
    })
    .then(
      () => 'committed',
      () => 'failed',
    );
  expect(outcome).toBe('failed');
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});
