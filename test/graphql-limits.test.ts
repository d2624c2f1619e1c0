import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// CONTRACT §6: documents beyond the limits are refused before execution, on /graphql and on
// /graphql/stream, with a GraphQL error; the standard introspection query still works; the
// server answers the next request normally.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const ofTypeChain = (levels: number) => `{ __schema { types { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } }`;
const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: strategies { name }`).join(' ')} }`;
const directives = (n: number) => `{ strategies { ${'name @include(if: true) '.repeat(n)} } }`;
const tokens = (n: number) => `{ strategies { ${Array.from({ length: n }, () => 'name').join(' ')} } }`;
const hugeListing = `{ ${Array.from({ length: 30 }, (_, i) => `r${i}: runs(first: 100) { nodes { events(first: 5000) { seq } } }`).join(' ')} }`;

const REFUSED: [string, string][] = [
  ['nesting deeper than 15 levels (a chain of ofType)', ofTypeChain(200)],
  ['more than 30 aliases', aliases(31)],
  ['more than 50 directives', directives(51)],
  ['more than 2,000 tokens', tokens(2001)],
  ['a request for millions of items', hugeListing],
];

async function overStream(query: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, text: await response.text() };
}

it('the standard introspection query (as GraphiQL and codegen send it) works', async () => {
  const result = await gql<{ __schema: { types: unknown[] } }>(server.url, getIntrospectionQuery());
  expect(result.errors).toBeUndefined();
  expect(result.data!.__schema.types.length).toBeGreaterThan(10);
});

it('documents within the limits run: 30 aliases, 50 directives, a deep but allowed ofType chain', async () => {
  for (const query of [aliases(30), directives(50), ofTypeChain(8)]) {
    const result = await gql(server.url, query);
    expect(result.errors, query.slice(0, 60)).toBeUndefined();
  }
});

it.each(REFUSED)('refuses %s before execution, on /graphql and /graphql/stream, then answers normally', async (_what, query) => {
  const result = await gql(server.url, query);
  expect(result.data ?? undefined).toBeUndefined();
  expect(result.errors?.length).toBeGreaterThan(0);
  expect(JSON.stringify(result.errors)).not.toMatch(/at .*\.(js|ts):\d+/);
  const streamed = await overStream(query);
  expect(streamed.text).toMatch(/errors/);
  expect(streamed.text).not.toMatch(/"data":\{/);
  const next = await gql<{ strategies: unknown[] }>(server.url, '{ strategies { name } }');
  expect(next.data?.strategies.length).toBeGreaterThan(0);
});

it('refuses a batched (array) request', async () => {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ query: '{ strategies { name } }' }, { query: '{ strategies { name } }' }]),
  });
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.status).toBeLessThan(500);
  expect((await response.json()).errors.length).toBeGreaterThan(0);
});
