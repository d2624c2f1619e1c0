import { Writable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { gql } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The server's own pino logger carries Fastify's request logging: one line per request with
// a request id, and a user's mistake is logged at info, never as an error and never with the
// whole GraphQL document or the request's credentials.

interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  [key: string]: unknown;
}

const lines: LogLine[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({}, { log: createLogger('debug', sink) });
});
afterAll(() => server.close());

const ERROR = 50;
const linesOf = (requestId: string) => lines.filter((line) => line.request_id === requestId);

it('logs each request once, with its request id (the client’s own when it sends one), and echoes the id', async () => {
  const response = await fetch(`${server.url}/api/strategies`, { headers: { 'x-request-id': 'trace-abc.123' } });
  expect(response.status).toBe(200);
  expect(response.headers.get('x-request-id')).toBe('trace-abc.123');
  await expect.poll(() => linesOf('trace-abc.123').map((line) => line.msg)).toEqual(['request']);
  expect(linesOf('trace-abc.123')[0]).toMatchObject({ level: 30, method: 'GET', path: '/api/strategies', status: 200 });

  // An id that is not short and plain is replaced, not logged.
  const odd = await fetch(`${server.url}/api/strategies`, { headers: { 'x-request-id': 'x'.repeat(200) } });
  expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  // Probes stay out of the log.
  const probe = await fetch(`${server.url}/healthz`);
  expect(linesOf(probe.headers.get('x-request-id')!)).toEqual([]);
});

it('a user’s mistake (NOT_FOUND, BAD_USER_INPUT) is logged at info, below error, without the document or credentials', async () => {
  const before = lines.length;
  const secretDocument = 'mutation SecretDocumentMarker { executeStrategy(input: { strategy: "fixture_steps", parameters: { steps: -5 } }) { id } }';
  const invalid = await gql(server.url, secretDocument, {}, { authorization: 'Bearer sekrit-token-value' });
  expect(invalid.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const missing = await api(server.url, '/api/strategies/runs/00000000-0000-4000-8000-000000000000/status', {
    headers: { 'x-request-id': 'missing-run', authorization: 'Bearer sekrit-token-value' },
  });
  expect(missing.status).toBe(404);
  const badBody = await api(server.url, '/api/strategies/execute', { json: { strategy: '' }, headers: { 'x-request-id': 'bad-body' } });
  expect(badBody.status).toBe(400);

  await expect.poll(() => linesOf('bad-body').length).toBeGreaterThan(0);
  const refused = [...linesOf('missing-run'), ...linesOf('bad-body')].filter((line) => line.msg === 'request refused');
  expect(refused.map((line) => [line.code, line.level])).toEqual([
    ['NOT_FOUND', 30],
    ['BAD_USER_INPUT', 30],
  ]);
  const written = lines.slice(before);
  expect(written.filter((line) => line.level >= ERROR).map((line) => JSON.stringify(line))).toEqual([]);
  const text = JSON.stringify(written);
  expect(text).not.toContain('SecretDocumentMarker');
  expect(text).not.toContain('sekrit-token-value');
  // The GraphQL error itself is logged, by code and operation name, at info.
  expect(written.some((line) => line.msg === 'GraphQL errors' && line.level === 30 && JSON.stringify(line.codes) === '["BAD_USER_INPUT"]')).toBe(true);
});

it('an unexpected failure is logged as an error with its request id, and the client sees no internals', async () => {
  const before = lines.length;
  // Drop the runs table under the running server: reading a run now fails inside the database.
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  await client.query('alter table runs rename to runs_away');
  try {
    // Plain fetch: a 500 is a bug, not an answer the API document promises.
    const response = await fetch(`${server.url}/api/strategies/runs/00000000-0000-4000-8000-000000000000/status`, { headers: { 'x-request-id': 'broken' } });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: 'INTERNAL_SERVER_ERROR', message: expect.not.stringContaining('runs') } });
  } finally {
    await client.query('alter table runs_away rename to runs');
    await client.end();
  }
  await expect.poll(() => linesOf('broken').some((line) => line.level === ERROR)).toBe(true);
  expect(lines.slice(before).find((line) => line.level === ERROR)).toMatchObject({ request_id: 'broken', msg: 'request failed' });
});
