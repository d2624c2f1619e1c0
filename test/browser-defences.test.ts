import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { waitForStatus } from './helpers/runs.js';
import { api } from './helpers/rest.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createToken, tokenCli } from './helpers/tokens.js';

// What a web page a user opens can do to their server (CONTRACT §5): sessions and their CSRF
// defence with AUTH=tokens, the local-mode defences with AUTH=off.

const JSON_HEADERS = { 'content-type': 'application/json' };
const RUN = JSON.stringify({ strategy: 'fixture_steps', parameters: { steps: 1, delay_ms: 0 } });

describe('AUTH=tokens: browser sessions', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ AUTH: 'tokens' });
    token = await createToken(server.database.url, 'browser-user', 'operator');
  });
  afterAll(() => server.close());

  async function signIn(): Promise<string> {
    const response = await fetch(`${server.url}/api/session`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ token }) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ name: 'browser-user', role: 'operator', auth: 'tokens' });
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^sr_session=[\w-]{43};/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Path=\//);
    return cookie.split(';')[0]!;
  }

  it('signs in with a token: the cookie authorizes reads, same-origin state changes and GraphQL', async () => {
    const cookie = await signIn();
    expect((await api(server.url, '/api/session', { headers: { cookie } })).body).toMatchObject({ name: 'browser-user' });
    expect((await api(server.url, '/api/strategies', { headers: { cookie } })).status).toBe(200);
    const origin = new URL(server.url).origin;
    const run = await fetch(`${server.url}/api/strategies/execute`, { method: 'POST', headers: { ...JSON_HEADERS, cookie, origin }, body: RUN });
    expect(run.status).toBe(202);
    const viaGraphql = await gql(server.url, '{ strategies { name } }', {}, { cookie });
    expect(viaGraphql.errors).toBeUndefined();
  });

  it('refuses a cookie-authenticated state change from another site (Origin or Sec-Fetch-Site), on both faces', async () => {
    const cookie = await signIn();
    for (const headers of [{ origin: 'http://evil.example' }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }] as Record<string, string>[]) {
      const rest = await fetch(`${server.url}/api/strategies/execute`, { method: 'POST', headers: { ...JSON_HEADERS, cookie, ...headers }, body: RUN });
      expect(rest.status, JSON.stringify(headers)).toBe(403);
      expect((await rest.json()).error.code).toBe('FORBIDDEN');
      const graphql = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, cookie, ...headers },
        body: JSON.stringify({ query: 'mutation { executeStrategy(input: { strategy: "fixture_steps" }) { id } }' }),
      });
      expect(graphql.status).toBe(403);
    }
  });

  it('signing out, or revoking the token, ends the session at once; a bad token cannot sign in', async () => {
    const cookie = await signIn();
    const out = await fetch(`${server.url}/api/session`, { method: 'DELETE', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/sr_session=;/);
    expect((await api(server.url, '/api/strategies', { headers: { cookie } })).status).toBe(401);

    const again = await signIn();
    await tokenCli(server.database.url, ['revoke', 'browser-user']);
    expect((await api(server.url, '/api/strategies', { headers: { cookie: again } })).status).toBe(401);
    const refused = await api(server.url, '/api/session', { json: { token } });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('UNAUTHENTICATED');
    expect((await api(server.url, '/api/session', { json: { token: '' } })).status).toBe(400);
    token = await createToken(server.database.url, 'browser-user-2', 'viewer');
  });
});

describe('AUTH=off on loopback: no web page may start, cancel or read runs', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ AUTH: 'off', IDLE_TIMEOUT_MS: '1500', MAX_QUEUED_RUNS: '2', MAX_CONCURRENT_RUNS: '1', EXECUTE_RATE_PER_MINUTE: '1000' });
  });
  afterAll(() => server.close());

  it('everyone is admin: no token needed, started_by is null', async () => {
    const { status, body } = await api(server.url, '/api/strategies/execute', { json: JSON.parse(RUN) });
    expect(status).toBe(202);
    expect((await api(server.url, body.status_url)).body.started_by).toBeNull();
  });

  it('refuses a request for another Host (DNS rebinding), on every face', async () => {
    for (const path of ['/api/strategies', '/graphql?query=%7Bstrategies%7Bname%7D%7D']) {
      const response = await rawRequest(server.url, `GET ${path} HTTP/1.1\r\nHost: evil.example:${new URL(server.url).port}\r\nConnection: close\r\n\r\n`);
      expect(response, path).toMatch(/^HTTP\/1\.1 403/);
      expect(response).toContain('"FORBIDDEN"');
    }
    expect((await fetch(`${server.url}/api/strategies`, { headers: { host: `localhost:${new URL(server.url).port}` } })).status).toBe(200);
  });

  it('refuses a state change from another Origin, and a POST whose body is not JSON (415), on both faces', async () => {
    const fromPage = await fetch(`${server.url}/api/strategies/execute`, { method: 'POST', headers: { ...JSON_HEADERS, origin: 'http://evil.example' }, body: RUN });
    expect(fromPage.status).toBe(403);
    const graphqlFromPage = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, origin: 'http://evil.example' },
      body: JSON.stringify({ query: '{ strategies { name } }' }),
    });
    expect(graphqlFromPage.status).toBe(403);
    // What a cross-site form or fetch can send without a preflight: refused before any execution.
    const mutation = 'mutation { executeStrategy(input: { strategy: "fixture_steps" }) { id } }';
    const cases: [string, string, string][] = [
      ['/graphql', 'application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`],
      ['/graphql', 'text/plain', JSON.stringify({ query: mutation })],
      ['/graphql/stream', 'text/plain; charset=application/json', JSON.stringify({ query: mutation })],
      ['/graphql', 'multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: mutation })}\r\n--x--`],
    ];
    for (const [path, type, body] of cases) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type, accept: 'text/event-stream, application/json' }, body });
      expect(response.status, `${path} ${type}`).toBe(415);
    }
    const runs = await api(server.url, '/api/strategies/runs');
    expect(runs.body.runs).toHaveLength(1); // only the one started on purpose above
  });

  it('MAX_QUEUED_RUNS: beyond it execute answers 429 RESOURCE_EXHAUSTED on both faces and queues nothing', async () => {
    // Nothing left from earlier tests; then one long run holds the only slot and two more fill the queue.
    const active = async () => (await api(server.url, '/api/strategies/runs?status=queued,running,cancelling')).body.runs.length;
    await expect.poll(active, { timeout: 30_000 }).toBe(0);
    const long = { strategy: 'fixture_steps', parameters: { steps: 400, delay_ms: 50 } };
    const first = await api(server.url, '/api/strategies/execute', { json: long });
    expect(first.status).toBe(202);
    await waitForStatus(server.url, first.body.run_id, ['RUNNING']);
    const started = [first.body.run_id];
    for (let i = 0; i < 2; i += 1) {
      const queued = await api(server.url, '/api/strategies/execute', { json: long });
      expect(queued.status).toBe(202);
      started.push(queued.body.run_id);
    }
    expect((await api(server.url, '/api/strategies/runs?status=queued')).body.runs.length).toBe(2);
    const rest = await api(server.url, '/api/strategies/execute', { json: long });
    expect(rest.status).toBe(429);
    expect(rest.body.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('MAX_QUEUED_RUNS') });
    const graphql = await gql(server.url, 'mutation { executeStrategy(input: { strategy: "fixture_steps" }) { id } }');
    expect(graphql.errors?.[0]?.extensions?.code).toBe('RESOURCE_EXHAUSTED');
    expect((await api(server.url, '/api/strategies/runs?status=queued')).body.runs.length).toBe(2);
    for (const id of started) await api(server.url, `/api/strategies/runs/${id}/cancel`, { method: 'POST' });
  });

  it('closes a connection that never sends a byte, and answers the next request normally', async () => {
    const { port } = new URL(server.url);
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.on('close', () => resolve(Date.now() - started));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('idle connection still open after 10 s')), 10_000).unref();
    });
    expect(closedAfter).toBeGreaterThanOrEqual(1000);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

/** Sends raw bytes (fetch would not let a test set Host) and returns the raw answer. */
function rawRequest(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk) => (answer += chunk)).on('end', () => resolve(answer)).on('error', reject);
  });
}

