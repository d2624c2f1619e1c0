import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDocumented } from './helpers/openapi-conformance.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// CONTRACT §6: no request, however malformed, gets a 5xx or an internal error. Property-based:
// inputs drawn from each route's own shape, then mutated (wrong types, huge, deeply nested,
// NUL, lone surrogates, invalid UTF-8, odd encodings). Every REST answer is also checked
// against the OpenAPI document. A seed is printed on failure to replay it.

let server: TestServer;
let runId: string;
beforeAll(async () => {
  // A roomy queue and rate: the fuzzer starts runs on purpose; nothing should be refused for volume.
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '1', EXECUTE_RATE_PER_MINUTE: '100000' });
  const response = await fetch(`${server.url}/api/strategies/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ strategy: 'fixture_steps', parameters: { steps: 1, delay_ms: 0 } }),
  });
  runId = (await response.json()).run_id;
});
afterAll(() => server.close());

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

/** Strings that have broken servers: NUL, lone surrogates, huge, odd Unicode, numbers-as-text. */
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud800y', '\u202e', '%00', '%E0%A4%A', '../../etc/passwd', '-1', '1e309', '9'.repeat(40), ''),
  fc.string({ minLength: 5000, maxLength: 20000 }),
);

/** JSON values, then the shapes that break validators: deep nesting and wide objects. */
const nastyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  nastyString,
  fc.integer({ min: 1, max: 3000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
  fc.integer({ min: 1, max: 3000 }).map((depth) => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth))),
  fc.dictionary(nastyString, fc.jsonValue(), { maxKeys: 20 }),
);

/** A body as bytes: valid JSON of a mutated shape, broken JSON, or invalid UTF-8. */
const body = fc.oneof(
  fc.record({ strategy: fc.oneof(fc.constant('fixture_steps'), nastyString, fc.jsonValue()), parameters: nastyJson }).map((b) => JSON.stringify(b)),
  nastyJson.map((b) => JSON.stringify(b) ?? 'null'),
  fc.string(),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => new Uint8Array(bytes)),
);

const contentType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', undefined, 'application/x-www-form-urlencoded', '*/*', 'application/json; boundary=;;;');

/** A path segment as a client might send it: encoded, raw odd bytes, or broken percent-encoding. */
const segment = fc.oneof(
  fc.uuid(),
  nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
  fc.constantFrom('%', '%E0%A4%A', '%00', '..', '%2F', 'a%ZZb'),
);

const queryValue = fc.oneof(fc.constantFrom('0', '1', '-1', '100', '101', '1e3', '999999999999999999999', 'queued,running', ',', '%00', '%E0'), nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))));

async function send(method: string, path: string, init: { body?: string | Uint8Array<ArrayBuffer>; type?: string; headers?: Record<string, string> } = {}) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(init.type ? { 'content-type': init.type } : {}), accept: 'application/json', ...init.headers },
    body: typeof init.body === 'string' || init.body === undefined ? init.body : new Blob([init.body]),
    signal: AbortSignal.timeout(20_000),
  });
  // An SSE stream that opened is a success: read none of it.
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, text: '' };
  }
  return { status: response.status, text: await response.text(), contentType: response.headers.get('content-type') };
}

function expectNoInternalError(answer: { status: number; text: string }, what: string): void {
  expect(answer.status, `${what} → ${answer.status} ${answer.text.slice(0, 300)}`).toBeLessThan(500);
  expect(answer.text, what).not.toContain('INTERNAL_SERVER_ERROR');
  expect(answer.text, what).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('REST: every route, mutated inputs', () => {
  it('execute never answers 5xx, and its answers match the OpenAPI document', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (payload, type) => {
        const answer = await send('POST', '/api/strategies/execute', { body: payload, type });
        expectNoInternalError(answer, `execute ${String(payload).slice(0, 120)} (${type})`);
        if (answer.contentType?.startsWith('application/json')) {
          await assertDocumented(`${server.url}/api/strategies/execute`, 'POST', { status: answer.status, contentType: answer.contentType, body: JSON.parse(answer.text) });
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('run routes and listings never answer 5xx, with any id, query or header', async () => {
    const routes = (id: string) => [
      ['GET', `/api/strategies/runs/${id}/status`],
      ['GET', `/api/strategies/runs/${id}/events`],
      ['POST', `/api/strategies/runs/${id}/cancel`],
      ['GET', `/api/strategies/sse/${id}`],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(segment, fc.constant(runId)),
        fc.dictionary(fc.constantFrom('after_seq', 'limit', 'last_event_id', 'status', 'strategy', 'cursor', 'x'), queryValue, { maxKeys: 4 }),
        fc.option(fc.oneof(queryValue, fc.constantFrom('-5', '1'.repeat(30))), { nil: undefined }),
        async (id, query, lastEventId) => {
          const search = Object.entries(query).map(([k, v]) => `${k}=${v}`).join('&');
          for (const [method, path] of [...routes(id), ['GET', '/api/strategies/runs'], ['GET', '/api/strategies']]) {
            const answer = await send(method!, `${path}${search ? `?${search}` : ''}`, { headers: lastEventId ? { 'last-event-id': headerSafe(decodeSafe(lastEventId)) } : {} });
            expectNoInternalError(answer, `${method} ${path}?${search}`);
            // 431: a URL longer than Node's header limit never reaches a route.
            if (answer.status !== 431 && answer.contentType?.startsWith('application/json')) {
              await assertDocumented(`${server.url}${path}?${search}`, method!, { status: answer.status, contentType: answer.contentType, body: JSON.parse(answer.text) });
            }
          }
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});

describe('GraphQL: every root field, mutated arguments, on /graphql and /graphql/stream', () => {
  const OPERATIONS = [
    'query($id: ID!) { run(id: $id) { id status events(first: 3) { seq } } }',
    'query($status: [RunStatus!], $strategy: String, $first: Int, $after: String) { runs(status: $status, strategy: $strategy, first: $first, after: $after) { nodes { id } pageInfo { endCursor } } }',
    'query { strategies { name parametersSchema } }',
    'mutation($input: ExecuteStrategyInput!) { executeStrategy(input: $input) { id } }',
    'mutation($id: ID!) { cancelRun(id: $id) { id } }',
    'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq } }',
  ];
  const variables = fc.record(
    {
      id: fc.oneof(fc.uuid(), nastyString, fc.jsonValue()),
      runId: fc.oneof(fc.constant(runId), nastyString, fc.jsonValue()),
      afterSeq: fc.oneof(fc.integer(), fc.double(), nastyString),
      status: fc.oneof(fc.array(fc.constantFrom('QUEUED', 'RUNNING', 'DONE', '', 'queued'), { maxLength: 200 }), fc.jsonValue()),
      strategy: fc.oneof(nastyString, fc.jsonValue()),
      first: fc.oneof(fc.integer(), fc.double(), nastyString),
      after: fc.oneof(nastyString, fc.base64String(), fc.jsonValue()),
      input: fc.oneof(fc.record({ strategy: fc.oneof(fc.constant('fixture_steps'), nastyString), parameters: nastyJson }), nastyJson),
    },
    { requiredKeys: [] },
  );

  it('never answers 5xx or INTERNAL_SERVER_ERROR', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OPERATIONS), variables, fc.constantFrom('/graphql', '/graphql/stream'), async (query, vars, path) => {
        const isSubscription = query.startsWith('subscription');
        const answer = await send('POST', path === '/graphql' && isSubscription ? '/graphql/stream' : path, {
          type: 'application/json',
          body: JSON.stringify({ query, variables: vars }),
          headers: { accept: path === '/graphql/stream' || isSubscription ? 'text/event-stream' : 'application/graphql-response+json' },
        });
        expectNoInternalError(answer, `${path} ${query.slice(0, 40)} ${JSON.stringify(vars).slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
    // Still answering normally afterwards.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});

function decodeSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** What fetch lets a client put in a header (it refuses control characters and non-Latin-1 itself). */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '');
}
