import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, sseClient } from './helpers/graphql.js';
import { api, readSse } from './helpers/rest.js';
import { waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { bearer, createToken, tokenCli } from './helpers/tokens.js';

// AUTH=tokens (CONTRACT §5): tokens from the CLI, the roles matrix on both faces and the SSE
// routes, revocation at once, who started and cancelled a run.

let server: TestServer;
const tokens: Record<'viewer' | 'operator' | 'operator2' | 'admin', string> = { viewer: '', operator: '', operator2: '', admin: '' };
beforeAll(async () => {
  server = await startTestServer({ AUTH: 'tokens' });
  tokens.viewer = await createToken(server.database.url, 'vera', 'viewer');
  tokens.operator = await createToken(server.database.url, 'otto', 'operator');
  tokens.operator2 = await createToken(server.database.url, 'olga', 'operator');
  tokens.admin = await createToken(server.database.url, 'ada', 'admin');
}, 120_000);
afterAll(() => server.close());

const as = (who: keyof typeof tokens) => bearer(tokens[who]);
const EXECUTE = 'mutation($i: ExecuteStrategyInput!) { executeStrategy(input: $i) { id startedBy } }';
const CANCEL = 'mutation($id: ID!) { cancelRun(id: $id) { id status cancelledBy } }';
const LONG_RUN = { strategy: 'fixture_steps', parameters: { steps: 400, delay_ms: 50 } };

async function startRun(who: keyof typeof tokens): Promise<string> {
  const { status, body } = await api(server.url, '/api/strategies/execute', { json: LONG_RUN, headers: as(who) });
  expect(status).toBe(202);
  return body.run_id;
}

describe('tokens (npm run token)', () => {
  it('create prints the token alone on its last line, once; list shows names and roles, never tokens', async () => {
    expect(tokens.admin).toMatch(/^srt_[\w-]{43}$/);
    const { stdout, code } = await tokenCli(server.database.url, ['list']);
    expect(code).toBe(0);
    for (const name of ['vera', 'otto', 'olga', 'ada']) expect(stdout).toContain(name);
    for (const token of Object.values(tokens)) expect(stdout).not.toContain(token);
    const stored = await fetch(`${server.url}/api/strategies`, { headers: as('viewer') });
    expect(stored.status).toBe(200);
  });

  it('refuses a bad role, a missing name and a duplicate name with a clear message and a non-zero exit', async () => {
    const badRole = await tokenCli(server.database.url, ['create', '--name', 'x', '--role', 'root']);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toContain('--role must be one of viewer, operator, admin');
    const duplicate = await tokenCli(server.database.url, ['create', '--name', 'vera', '--role', 'viewer']);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toContain('already exists');
  });

  it('a revoked token stops working at once, with no restart', async () => {
    const token = await createToken(server.database.url, 'temp', 'operator');
    expect((await api(server.url, '/api/strategies', { headers: bearer(token) })).status).toBe(200);
    const revoked = await tokenCli(server.database.url, ['revoke', 'temp']);
    expect(revoked.code).toBe(0);
    const after = await api(server.url, '/api/strategies', { headers: bearer(token) });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHENTICATED');
    expect((await gql(server.url, '{ strategies { name } }', {}, bearer(token))).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('no or bad credentials', () => {
  it('401 UNAUTHENTICATED on every route but the probes, on both faces', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer srt_not-a-real-token' }, { authorization: 'Basic abc' }];
    for (const headers of attempts) {
      for (const path of ['/api/strategies', '/api/strategies/runs', '/api/session']) {
        const { status, body } = await api(server.url, path, { headers });
        expect(status, path).toBe(401);
        expect(body.error.code).toBe('UNAUTHENTICATED');
      }
      const post = await api(server.url, '/api/strategies/execute', { json: LONG_RUN, headers });
      expect(post.status).toBe(401);
      const graphql = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: '{ strategies { name } }' }),
      });
      expect(graphql.status).toBe(401);
      expect((await graphql.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      const stream = await fetch(`${server.url}/graphql/stream`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
        body: JSON.stringify({ query: 'subscription { runUpdated { id } }' }),
      });
      expect(stream.status).toBe(401);
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('/metrics takes the same token as the API', async () => {
    const open = await fetch(`${server.url}/metrics`);
    expect(open.status).toBe(401);
    expect((await open.json()).error.code).toBe('UNAUTHENTICATED');
    const withToken = await fetch(`${server.url}/metrics`, { headers: as('viewer') });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toContain('strategy_runner_queue_depth');
  });
});

describe('the roles matrix', () => {
  it('every role reads strategies, runs, a run, its events and its streams, on both faces', async () => {
    const runId = await startRun('admin');
    await waitForStatus(server.url, runId, ['RUNNING'], 30_000).catch(() => undefined);
    for (const who of ['viewer', 'operator', 'admin'] as const) {
      for (const path of ['/api/strategies', '/api/strategies/runs', `/api/strategies/runs/${runId}/status`, `/api/strategies/runs/${runId}/events`]) {
        expect((await api(server.url, path, { headers: as(who) })).status, `${who} ${path}`).toBe(200);
      }
      const read = await gql(server.url, `{ runs { nodes { id } } run(id: "${runId}") { id events(first: 3) { seq } } }`, {}, as(who));
      expect(read.errors, who).toBeUndefined();
      const sse = await readSse(`${server.url}/api/strategies/sse/${runId}`, { headers: as(who), stopWhen: (r) => r.messages.length >= 2 });
      expect(sse.status, who).toBe(200);
      const client = sseClient(server.url, 'distinct', as(who));
      const first = await new Promise<unknown>((resolve, reject) => {
        const stop = client.subscribe(
          { query: `subscription { runEvents(runId: "${runId}") { seq } }` },
          { next: (value) => (stop(), resolve(value)), error: reject, complete: () => resolve(undefined) },
        );
      });
      client.dispose();
      expect(first, who).toMatchObject({ data: { runEvents: { seq: 1 } } });
    }
    await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST', headers: as('admin') });
  });

  it('a viewer may not execute or cancel (403 FORBIDDEN / extensions.code FORBIDDEN); nothing is queued', async () => {
    const runId = await startRun('operator');
    const rest = await api(server.url, '/api/strategies/execute', { json: LONG_RUN, headers: as('viewer') });
    expect(rest.status).toBe(403);
    expect(rest.body.error.code).toBe('FORBIDDEN');
    const graphql = await gql(server.url, EXECUTE, { i: LONG_RUN }, as('viewer'));
    expect(graphql.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const cancel = await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST', headers: as('viewer') });
    expect(cancel.status).toBe(403);
    expect((await gql(server.url, CANCEL, { id: runId }, as('viewer'))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const mine = await api(server.url, `/api/strategies/runs?strategy=fixture_steps&status=queued,running`, { headers: as('viewer') });
    expect(mine.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([runId]);
    await api(server.url, `/api/strategies/runs/${runId}/cancel`, { method: 'POST', headers: as('operator') });
  });

  it('an operator starts runs (started_by is its name) and cancels its own, not another’s; an admin cancels anyone’s', async () => {
    const viaGraphql = await gql<{ executeStrategy: { id: string; startedBy: string } }>(server.url, EXECUTE, { i: LONG_RUN }, as('operator'));
    expect(viaGraphql.data?.executeStrategy.startedBy).toBe('otto');
    const own = viaGraphql.data!.executeStrategy.id;
    const others = await startRun('operator2');
    expect((await api(server.url, `/api/strategies/runs/${others}/status`, { headers: as('viewer') })).body.started_by).toBe('olga');

    // Another operator's run: refused on both faces, and the run goes on.
    const refused = await api(server.url, `/api/strategies/runs/${others}/cancel`, { method: 'POST', headers: as('operator') });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('started by another token');
    expect((await gql(server.url, CANCEL, { id: others }, as('operator'))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await api(server.url, `/api/strategies/runs/${others}/status`, { headers: as('admin') })).body.status).not.toMatch(/cancel/);

    const ownCancel = await api(server.url, `/api/strategies/runs/${own}/cancel`, { method: 'POST', headers: as('operator') });
    expect(ownCancel.status).toBe(200);
    expect(ownCancel.body.cancelled_by).toBe('otto');
    const adminCancel = await gql<{ cancelRun: { cancelledBy: string } }>(server.url, CANCEL, { id: others }, as('admin'));
    expect(adminCancel.data?.cancelRun.cancelledBy).toBe('ada');
    await waitForStatus(server.url, others, ['CANCELLED'], 30_000).catch(() => undefined);
  });
});

describe('tokens are an admin’s business', () => {
  it('only an admin lists tokens, on both faces, and never sees a secret', async () => {
    for (const who of ['viewer', 'operator'] as const) {
      const rest = await api(server.url, '/api/tokens', { headers: as(who) });
      expect(rest.status, who).toBe(403);
      expect((await gql(server.url, '{ tokens { name } }', {}, as(who))).errors?.[0]?.extensions?.code, who).toBe('FORBIDDEN');
    }
    const rest = await api(server.url, '/api/tokens', { headers: as('admin') });
    expect(rest.status).toBe(200);
    expect(rest.body.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['vera', 'otto', 'olga', 'ada']));
    expect(rest.body.find((t: { name: string }) => t.name === 'otto')).toMatchObject({ role: 'operator', revoked_at: null });
    const graphql = await gql<{ tokens: { name: string; role: string }[]; viewer: { name: string; role: string } }>(server.url, '{ tokens { name role } viewer { name role } }', {}, as('admin'));
    expect(graphql.data?.tokens).toEqual(expect.arrayContaining([{ name: 'vera', role: 'VIEWER' }]));
    expect(graphql.data?.viewer).toEqual({ name: 'ada', role: 'ADMIN' });
    const everything = JSON.stringify([rest.body, graphql.data]);
    for (const token of Object.values(tokens)) expect(everything).not.toContain(token.slice(4));
  });
});

describe('the signed sse_url', () => {
  it('opens its run’s stream with no header, opens no other run and authorizes nothing else', async () => {
    const { body } = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 2, delay_ms: 0 } }, headers: as('operator') });
    const other = await startRun('operator');
    await waitForStatus(server.url, body.run_id, ['COMPLETED']).catch(() => undefined);
    const stream = await readSse(`${server.url}${body.sse_url}`);
    expect(stream.status).toBe(200);
    expect(stream.messages.at(-1)!.data).toContain('"completed"');
    const ticket = new URL(body.sse_url, server.url).searchParams.get('access_token')!;
    // The same ticket on another run's stream, or on any other route: 401.
    expect((await readSse(`${server.url}/api/strategies/sse/${other}?access_token=${ticket}`)).status).toBe(401);
    for (const path of [`/api/strategies/runs/${body.run_id}/status?access_token=${ticket}`, `/api/strategies/runs/${body.run_id}/events?access_token=${ticket}`]) {
      expect((await api(server.url, path)).status, path).toBe(401);
    }
    expect((await api(server.url, `/api/strategies/runs/${body.run_id}/cancel?access_token=${ticket}`, { method: 'POST' })).status).toBe(401);
    const tampered = ticket.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await readSse(`${server.url}/api/strategies/sse/${body.run_id}?access_token=${tampered}`)).status).toBe(401);
    // A real token is never read from a URL.
    expect((await api(server.url, `/api/strategies?access_token=${tokens.admin}`)).status).toBe(401);
    await api(server.url, `/api/strategies/runs/${other}/cancel`, { method: 'POST', headers: as('admin') });
  });
});
