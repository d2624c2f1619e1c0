import { afterAll, beforeAll, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// Regression tests for inputs that once got a 500 (or took a server down): each is now a coded
// 4xx that names what to fix, on both faces, and the server answers the next request normally.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const EXECUTE = 'mutation($p: JSON) { executeStrategy(input: { strategy: "bullish_strategy", parameters: $p }) { id } }';

async function executeRaw(body: string) {
  const response = await fetch(`${server.url}/api/strategies/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, body: await response.json() };
}

it('a NUL or a lone surrogate in a parameter string: 400 BAD_USER_INPUT naming the field, on both faces', async () => {
  for (const value of ['dow\\u0000', '\\ud800', 'a\\udfffb']) {
    const rest = await executeRaw(`{"strategy":"bullish_strategy","parameters":{"universe":"${value}"}}`);
    expect(rest.status, value).toBe(400);
    expect(rest.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'parameters.universe' }] });
    const viaGraphql = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"query":${JSON.stringify(EXECUTE)},"variables":{"p":{"universe":"${value}"}}}`,
    }).then((r) => r.json());
    expect(viaGraphql.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'parameters.universe' }] });
  }
});

it('parameters nested 100,000 deep: refused without a stack overflow, on both faces', async () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const rest = await executeRaw(`{"strategy":"bullish_strategy","parameters":{"x":${deep}}}`);
  expect(rest.status).toBe(400);
  expect(rest.body.error.code).toBe('BAD_USER_INPUT');
  const viaGraphql = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"query":${JSON.stringify(EXECUTE)},"variables":{"p":{"x":${deep}}}}`,
  }).then((r) => r.json());
  expect(viaGraphql.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  expect((await api(server.url, '/api/strategies')).status).toBe(200);
});

it('runs(strategy) with a NUL, a cursor beyond range, an empty or a 65,535-long status list: coded answers, never 500', async () => {
  const nul = await gql(server.url, '{ runs(strategy: "a\\u0000b") { nodes { id } } }');
  expect(nul.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect((await api(server.url, '/api/strategies/runs?strategy=a%00b')).status).toBe(400);
  const cursor = await gql(server.url, `{ runs(after: "${Buffer.from('99999999999999999999').toString('base64')}") { nodes { id } } }`);
  expect(cursor.errors?.[0]?.extensions?.code ?? 'none').not.toBe('INTERNAL_SERVER_ERROR');
  expect((await api(server.url, '/api/strategies/runs?cursor=9999999999')).status).toBe(200);
  const empty = await gql<{ runs: { nodes: unknown[] } }>(server.url, '{ runs(status: []) { nodes { id } } }');
  expect(empty.errors).toBeUndefined();
  const many = await gql(server.url, `{ runs(status: [${Array(65_535).fill('QUEUED').join(',')}]) { nodes { id } } }`);
  expect(many.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
  const manyVariables = await gql(server.url, 'query($s: [RunStatus!]) { runs(status: $s) { nodes { id } } }', { s: Array(65_535).fill('QUEUED') });
  expect(manyVariables.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});
