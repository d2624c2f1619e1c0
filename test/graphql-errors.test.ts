import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectSubscription, gql, sseClient } from './helpers/graphql.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const EXECUTE = `mutation($input: ExecuteStrategyInput!) { executeStrategy(input: $input) { id status } }`;

async function countRuns(): Promise<number> {
  const rows = await server.app.database.db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).execute();
  return Number(rows[0]!.n);
}

describe('bad input answers a coded error, never a stack trace, and queues nothing', () => {
  it('invalid parameters: BAD_USER_INPUT naming each field', async () => {
    const before = await countRuns();
    const response = await gql(server.url, EXECUTE, {
      input: { strategy: 'bullish_strategy', parameters: { rsi_max: 140, no_such_parameter: 1 } },
    });
    const error = response.errors![0]!;
    expect(error.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/parameters\.rsi_max must be <= 100/);
    expect(error.extensions?.details).toEqual(
      expect.arrayContaining([
        { field: 'parameters.rsi_max', message: 'must be <= 100' },
        { field: 'parameters.no_such_parameter', message: 'is not a known parameter' },
      ]),
    );
    expect(JSON.stringify(response)).not.toMatch(/at .*\.ts:\d+|stack/i);
    expect(await countRuns()).toBe(before);
  });

  it('parameters of the wrong shape: BAD_USER_INPUT', async () => {
    const response = await gql(server.url, EXECUTE, { input: { strategy: 'bullish_strategy', parameters: [1, 2] } });
    expect(response.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.message).toMatch(/parameters must be a JSON object/);
  });

  it('unknown strategy: NOT_FOUND listing the known ones', async () => {
    const response = await gql(server.url, EXECUTE, { input: { strategy: 'nope', parameters: {} } });
    expect(response.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    expect(response.errors![0]!.message).toMatch(/Unknown strategy "nope". Known strategies: .*bullish_strategy/);
  });

  it('unknown run: null from run(id), NOT_FOUND from runEvents', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const query = await gql<{ run: unknown }>(server.url, 'query($id: ID!) { run(id: $id) { id } }', { id: missing });
    expect(query.data!.run).toBeNull();
    expect(query.errors).toBeUndefined();

    for (const mode of ['distinct', 'single'] as const) {
      const client = sseClient(server.url, mode);
      const payloads = await collectSubscription(client, 'subscription($id: ID!) { runEvents(runId: $id) { seq } }', { id: missing });
      client.dispose();
      expect(payloads).toHaveLength(1);
      expect(payloads[0]!.errors![0]).toMatchObject({ message: `No run with id "${missing}"`, extensions: { code: 'NOT_FOUND' } });
    }
  });

  it('an invalid subscription over /graphql/stream: the validation error itself, not a bare 400', async () => {
    const client = sseClient(server.url, 'distinct');
    const payloads = await collectSubscription(client, 'subscription { runEvents(runId: 1, nope: 2) { seq } }', {});
    client.dispose();
    expect(payloads[0]!.errors![0]!.message).toMatch(/Unknown argument "nope"/);
  });

  it('bad pagination and afterSeq: BAD_USER_INPUT', async () => {
    const page = await gql(server.url, '{ runs(first: 1000) { nodes { id } } }');
    expect(page.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    const cursor = await gql(server.url, '{ runs(after: "garbage") { nodes { id } } }');
    expect(cursor.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('pages through runs newest first with cursors, filtered by status and strategy', async () => {
    for (let i = 0; i < 3; i++) {
      await gql(server.url, EXECUTE, { input: { strategy: 'fixture_steps', parameters: { steps: 1, delay_ms: 0 } } });
    }
    type Page = { runs: { nodes: Array<{ id: string; strategy: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    const query = 'query($after: String) { runs(first: 2, strategy: "fixture_steps", after: $after) { nodes { id strategy } pageInfo { hasNextPage endCursor } } }';
    const first = await gql<Page>(server.url, query);
    expect(first.data!.runs.nodes).toHaveLength(2);
    expect(first.data!.runs.pageInfo.hasNextPage).toBe(true);
    const second = await gql<Page>(server.url, query, { after: first.data!.runs.pageInfo.endCursor });
    const ids = [...first.data!.runs.nodes, ...second.data!.runs.nodes].map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const none = await gql<Page>(server.url, '{ runs(status: [CANCELLING], strategy: "fixture_steps") { nodes { id strategy } pageInfo { hasNextPage endCursor } } }');
    expect(none.data!.runs.nodes).toEqual([]);
  });
});

it('refuses an oversized body on /graphql/stream with 413 before reading it', async () => {
  const response = await fetch(`${server.url}/graphql/stream`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: `subscription { runUpdated { id } } # ${'x'.repeat(2 * 1024 * 1024)}` }),
  });
  expect(response.status).toBe(413);
  expect(await response.json()).toEqual({
    errors: [{ message: 'Request body over 1048576 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
  });
});
