import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecuteStrategyDocument } from './documents.js';
import { gql } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function runCount(): Promise<number> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('select count(*) as n from runs')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

async function sql(query: string, params: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    await client.query(query, params);
  } finally {
    await client.end();
  }
}

const execute = (key: string | undefined, parameters: Record<string, unknown>) =>
  api(server.url, '/api/strategies/execute', {
    json: { strategy: 'fixture_steps', parameters },
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });

const gqlExecute = (idempotencyKey: string | undefined, parameters: Record<string, unknown>) =>
  gql(server.url, ExecuteStrategyDocument, { input: { strategy: 'fixture_steps', parameters, idempotencyKey } });

describe('REST Idempotency-Key on POST /api/strategies/execute', () => {
  it('answers a repeat with the same run (200, nothing queued) and a different request with 409', async () => {
    const before = await runCount();
    const first = await execute('rest-key-1', { steps: 2, delay_ms: 0 });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ status: 'queued', run_id: expect.any(String) });

    // Same key, same request (keys in another order): the same run, nothing new.
    const again = await execute('rest-key-1', { delay_ms: 0, steps: 2 });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.run_id).toBe(first.body.run_id);
    expect(again.body.status_url).toBe(first.body.status_url);
    expect(await runCount()).toBe(before + 1);

    // Same key, other parameters: refused, saying why; nothing queued.
    const conflict = await execute('rest-key-1', { steps: 3, delay_ms: 0 });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('CONFLICT');
    expect(conflict.body.error.message).toMatch(/Idempotency key "rest-key-1" was already used .* different request/);
    expect(conflict.body.error.message).toContain(first.body.run_id);
    expect(await runCount()).toBe(before + 1);

    // Without a key every request is a new run; another key is another run.
    expect((await execute(undefined, { steps: 2, delay_ms: 0 })).status).toBe(202);
    expect((await execute(undefined, { steps: 2, delay_ms: 0 })).status).toBe(202);
    expect((await execute('rest-key-2', { steps: 2, delay_ms: 0 })).body.run_id).not.toBe(first.body.run_id);
    expect(await runCount()).toBe(before + 4);
  });

  it('refuses a malformed key with 400 and nothing queued, and documents the header', async () => {
    const before = await runCount();
    const bad = await execute('x'.repeat(256), { steps: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_USER_INPUT');
    expect(bad.body.error.details).toEqual([{ field: 'idempotency_key', message: 'must be 1 to 255 visible ASCII characters' }]);
    expect(await runCount()).toBe(before);

    const document = await (await fetch(`${server.url}/api/openapi.json`)).json();
    const operation = document.paths['/api/strategies/execute'].post;
    expect(operation.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'idempotency-key', required: false }));
    expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['200', '202', '409']));
  });

  it('a key older than 24 h starts a new run', async () => {
    const first = await execute('rest-key-expiring', { steps: 1, delay_ms: 0 });
    await sql(`update idempotency_keys set created_at = now() - interval '25 hours' where key = $1`, ['rest-key-expiring']);
    const later = await execute('rest-key-expiring', { steps: 2, delay_ms: 0 });
    expect(later.status).toBe(202);
    expect(later.body.run_id).not.toBe(first.body.run_id);
    // And the key now belongs to the new run.
    expect((await execute('rest-key-expiring', { steps: 2, delay_ms: 0 })).body.run_id).toBe(later.body.run_id);
  });

  it('twenty concurrent requests with one key make exactly one run', async () => {
    const before = await runCount();
    const answers = await Promise.all(Array.from({ length: 20 }, () => execute('rest-concurrent', { steps: 2, delay_ms: 0 })));
    const ids = new Set(answers.map((a) => a.body.run_id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(19);
    expect(await runCount()).toBe(before + 1);
  });
});

describe('GraphQL executeStrategy(input: { idempotencyKey })', () => {
  it('returns the same run for the same key, CONFLICT for other parameters', async () => {
    const before = await runCount();
    const first = await gqlExecute('gql-key-1', { steps: 2, delay_ms: 0 });
    expect(first.errors).toBeUndefined();
    const again = await gqlExecute('gql-key-1', { steps: 2, delay_ms: 0 });
    expect(again.data!.executeStrategy.id).toBe(first.data!.executeStrategy.id);
    expect(await runCount()).toBe(before + 1);

    const conflict = await gqlExecute('gql-key-1', { steps: 5 });
    expect(conflict.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(conflict.errors?.[0]?.message).toMatch(/already used .* different request/);
    expect(await runCount()).toBe(before + 1);

    const bad = await gqlExecute('', { steps: 2 });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'input.idempotencyKey' }] });
  });

  it('concurrent requests with one key over both faces make exactly one run (one caller: no access control)', async () => {
    const before = await runCount();
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, () => gqlExecute('shared-key', { steps: 2, delay_ms: 0 }).then((r) => r.data!.executeStrategy.id)),
      ...Array.from({ length: 8 }, () => execute('shared-key', { steps: 2, delay_ms: 0 }).then((r) => r.body.run_id as string)),
    ]);
    expect(new Set(answers).size).toBe(1);
    expect(await runCount()).toBe(before + 1);
  });
});
