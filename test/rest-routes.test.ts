import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { api, postChunked } from './helpers/rest.js';
import { execute, getRun, waitForStatus, type RunView } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const STATUS_KEYS = [
  'run_id', 'strategy', 'status', 'progress_percent', 'stage', 'message', 'created_at',
  'started_at', 'finished_at', 'exit_code', 'error', 'result',
];

/** The REST status object must say exactly what GraphQL's `run` says, field by field. */
function expectSameRun(rest: Record<string, any>, graphql: RunView, strategy: string): void {
  expect(rest).toEqual({
    run_id: graphql.id,
    strategy,
    status: graphql.status.toLowerCase(),
    progress_percent: graphql.progressPercent,
    stage: graphql.stage,
    message: graphql.message,
    created_at: graphql.createdAt,
    started_at: graphql.startedAt,
    finished_at: graphql.finishedAt,
    exit_code: graphql.exitCode,
    error: graphql.error && { code: graphql.error.code, message: graphql.error.message, stderr_tail: graphql.error.stderrTail },
    result: graphql.result,
    parameters: expect.any(Object),
    queue_position: graphql.queuePosition,
    wait_reason: graphql.waitReason,
    last_seq: graphql.lastSeq,
    started_by: graphql.startedBy,
    cancelled_by: graphql.cancelledBy,
    events_lost: graphql.eventsLost,
  });
}

describe('GET /api/strategies', () => {
  it('lists every registered strategy with its parameters schema, as GraphQL does', async () => {
    const { status, body } = await api(server.url, '/api/strategies');
    expect(status).toBe(200);
    const viaGraphql = await gql<{ strategies: Array<{ name: string; description: string; parametersSchema: unknown }> }>(
      server.url,
      '{ strategies { name description parametersSchema } }',
    );
    expect(body.map((s: any) => ({ name: s.name, description: s.description, parametersSchema: s.parameters_schema }))).toEqual(
      viaGraphql.data!.strategies,
    );
    const steps = body.find((s: any) => s.name === 'fixture_steps');
    expect(steps.parameters_schema.properties.steps).toMatchObject({ type: 'integer', default: 10 });
    expect(body.map((s: any) => s.name)).toContain('bullish_strategy');
  });
});

describe('POST /api/strategies/execute, then status', () => {
  it('answers 202 with the run id and relative URLs, and the status route matches GraphQL field by field', async () => {
    const { status, headers, body } = await api(server.url, '/api/strategies/execute', {
      json: { strategy: 'fixture_steps', parameters: { steps: 5, delay_ms: 0 } },
    });
    expect(status).toBe(202);
    expect(Object.keys(body).sort()).toEqual(['run_id', 'sse_url', 'status', 'status_url']);
    expect(body).toEqual({
      run_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'queued',
      // A signed read-only ticket for this run rides along, so a plain EventSource needs no header.
      sse_url: expect.stringMatching(new RegExp(`^/api/strategies/sse/${body.run_id}\\?access_token=v1\\.\\d+\\.[\\w-]+$`)),
      status_url: `/api/strategies/runs/${body.run_id}/status`,
    });
    expect(headers.get('location')).toBe(body.status_url);

    const done = await waitForStatus(server.url, body.run_id, ['COMPLETED']);
    const view = await api(server.url, body.status_url);
    expect(view.status).toBe(200);
    for (const key of STATUS_KEYS) expect(view.body).toHaveProperty(key);
    expect(view.body).toMatchObject({ status: 'completed', exit_code: 0, progress_percent: 100, error: null });
    expect(view.body.result).toEqual({ steps: 5, params: { steps: 5, delay_ms: 0, fail_at: 0 } });
    expect(view.body.parameters).toEqual({ steps: 5, delay_ms: 0, fail_at: 0 });
    expectSameRun(view.body, done, 'fixture_steps');
  });

  it('reports a failed run with its error and stderr tail, as GraphQL does', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 5, delay_ms: 0, fail_at: 3 });
    const failed = await waitForStatus(server.url, run.id, ['FAILED']);
    const view = await api(server.url, `/api/strategies/runs/${run.id}/status`);
    expect(view.body).toMatchObject({ status: 'failed', exit_code: 1, result: null });
    expect(view.body.error).toMatchObject({ code: 'EXIT_CODE' });
    expect(view.body.error.stderr_tail.join('\n')).toContain('failing at step 3');
    expectSameRun(view.body, failed, 'fixture_steps');
  });

  it('matches GraphQL while the run is still going', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 200, delay_ms: 20 });
    await waitForStatus(server.url, run.id, ['RUNNING']);
    // Compare a moment of the run from both faces: retry until no event landed in between.
    for (let attempt = 0; ; attempt++) {
      const before = await getRun(server.url, run.id);
      const view = await api(server.url, `/api/strategies/runs/${run.id}/status`);
      const after = await getRun(server.url, run.id);
      if (before!.lastSeq === after!.lastSeq || attempt > 50) {
        expect(view.body.status).toBe('running');
        expectSameRun(view.body, after!, 'fixture_steps');
        break;
      }
    }
    await api(server.url, `/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
  });
});

describe('POST /api/strategies/runs/{run_id}/cancel', () => {
  it('cancels a running run (200, status object), and a second cancel once it ended is 409', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 1000, delay_ms: 50 });
    await waitForStatus(server.url, run.id, ['RUNNING']);
    const cancel = await api(server.url, `/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(cancel.body.run_id).toBe(run.id);
    expect(['cancelling', 'cancelled']).toContain(cancel.body.status);
    const cancelled = await waitForStatus(server.url, run.id, ['CANCELLED']);
    const view = await api(server.url, `/api/strategies/runs/${run.id}/status`);
    expectSameRun(view.body, cancelled, 'fixture_steps');

    const again = await api(server.url, `/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'CONFLICT', message: expect.stringContaining('already finished') } });
  });

  it('cancels a queued run at once', async () => {
    // Fill both slots so the third run waits in the queue.
    const busy = [
      await execute(server.url, 'fixture_steps', { steps: 1000, delay_ms: 50 }),
      await execute(server.url, 'fixture_steps', { steps: 1000, delay_ms: 50 }),
    ];
    const queued = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 1 } } });
    const first = await api(server.url, `/api/strategies/runs/${queued.body.run_id}/status`);
    const cancel = await api(server.url, `/api/strategies/runs/${queued.body.run_id}/cancel`, { method: 'POST' });
    for (const run of busy) await api(server.url, `/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
    expect(first.body).toMatchObject({ status: 'queued', queue_position: expect.any(Number), wait_reason: expect.any(String) });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ run_id: queued.body.run_id, status: 'cancelled', queue_position: null });
  });
});

describe('errors (CONTRACT §4): pinned status codes and {"error": {code, message, details?}}', () => {
  /** `contentType: null` sends none at all (fetch would add text/plain to a string body). */
  const post = (path: string, body: string, contentType: string | null = 'application/json') =>
    contentType === null ? rawPost(path, body) : api(server.url, path, { method: 'POST', body, headers: { 'content-type': contentType } });

  const rawPost = (path: string, body: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)) } });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('400 for a body that is not JSON', async () => {
    const { status, body } = await post('/api/strategies/execute', '{"strategy": "fixture_steps",');
    expect(status).toBe(400);
    expect(body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.stringContaining('not valid JSON') } });
  });

  it('400 for an empty body and for JSON that is not an object', async () => {
    expect((await post('/api/strategies/execute', '')).body).toEqual({ error: { code: 'BAD_REQUEST', message: expect.stringContaining('empty') } });
    const array = await post('/api/strategies/execute', '[1,2]');
    expect(array.status).toBe(400);
    expect(array.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: '', message: 'must be an object' }] });
  });

  it('415 for a wrong or missing content type, saying to send application/json', async () => {
    for (const type of ['text/plain', 'text/plain; charset=application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null]) {
      const { status, body } = await post('/api/strategies/execute', '{"strategy":"fixture_steps"}', type);
      expect(status).toBe(415);
      expect(body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(body.error.message).toContain('application/json');
    }
    // A charset parameter is fine.
    const ok = await post('/api/strategies/execute', '{"strategy":"fixture_steps","parameters":{"steps":1,"delay_ms":0}}', 'application/json; charset=utf-8');
    expect(ok.status).toBe(202);
  });

  it('400 BAD_USER_INPUT with field-level details for invalid parameters, and nothing queued', async () => {
    const { status, body } = await api(server.url, '/api/strategies/execute', {
      json: { strategy: 'fixture_steps', parameters: { steps: 0, delay_ms: 'slow', bogus: true } },
    });
    expect(status).toBe(400);
    expect(body.error.code).toBe('BAD_USER_INPUT');
    expect(body.error.message).toMatch(/Invalid parameters/);
    const fields = body.error.details.map((d: any) => d.field);
    expect(fields).toEqual(expect.arrayContaining([expect.stringContaining('steps'), expect.stringContaining('delay_ms')]));
    for (const detail of body.error.details) expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
    // GraphQL answers the same details for the same input.
    const viaGraphql = await gql(server.url, 'mutation($i: ExecuteStrategyInput!) { executeStrategy(input: $i) { id } }', {
      i: { strategy: 'fixture_steps', parameters: { steps: 0, delay_ms: 'slow', bogus: true } },
    });
    expect(viaGraphql.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', details: body.error.details });
  });

  it('400 when strategy is missing or parameters is not an object', async () => {
    const missing = await api(server.url, '/api/strategies/execute', { json: { parameters: {} } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'strategy', message: 'is required' }] });
    const notObject = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: [1] } });
    expect(notObject.status).toBe(400);
    expect(notObject.body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'parameters', message: 'must be an object' }] });
  });

  it('404 for an unknown strategy', async () => {
    const { status, body } = await api(server.url, '/api/strategies/execute', { json: { strategy: 'no_such_strategy', parameters: {} } });
    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('no_such_strategy') } });
  });

  it('404 for an unknown run on status, sse and cancel (a non-UUID id is simply unknown)', async () => {
    for (const id of [randomUUID(), 'not-a-uuid', '%E0%A4%A']) {
      for (const [method, path] of [
        ['GET', `/api/strategies/runs/${id}/status`],
        ['GET', `/api/strategies/sse/${id}`],
        ['POST', `/api/strategies/runs/${id}/cancel`],
      ] as const) {
        const { status, headers, body } = await api(server.url, path, { method });
        expect(status, `${method} ${path}`).toBe(404);
        expect(headers.get('content-type')).toMatch(/^application\/json/);
        expect(body.error.code).toBe('NOT_FOUND');
        expect(typeof body.error.message).toBe('string');
      }
    }
    expect(server.app.rest.openStreams()).toBe(0);
  });

  it('404 for an unknown route under /api', async () => {
    for (const path of ['/api/nope', '/api/strategies/', '/api/strategies/runs/x', '/api/strategies/sse']) {
      const { status, body } = await api(server.url, path);
      expect(status, path).toBe(404);
      expect(body).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringContaining('No route') } });
    }
  });

  it('405 with Allow for a known route and the wrong method', async () => {
    const cases = [
      ['GET', '/api/strategies/execute', 'POST'],
      ['DELETE', '/api/strategies', 'GET'],
      ['POST', `/api/strategies/sse/${randomUUID()}`, 'GET'],
      ['GET', `/api/strategies/runs/${randomUUID()}/cancel`, 'POST'],
      ['PUT', `/api/strategies/runs/${randomUUID()}/status`, 'GET'],
    ] as const;
    for (const [method, path, allow] of cases) {
      const { status, headers, body } = await api(server.url, path, { method });
      expect(status, `${method} ${path}`).toBe(405);
      expect(headers.get('allow')).toBe(allow);
      expect(body).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: expect.stringContaining(allow) } });
    }
  });

  it('409 for cancelling a finished run', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 1, delay_ms: 0 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    const { status, body } = await api(server.url, `/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
    expect(status).toBe(409);
    expect(body).toEqual({ error: { code: 'CONFLICT', message: expect.stringContaining('completed') } });
  });

  it('413 for a body over MAX_BODY_BYTES, whether its length is declared or streamed', async () => {
    const huge = JSON.stringify({ strategy: 'fixture_steps', parameters: { pad: 'x'.repeat(1024 * 1024 + 10) } });
    const declared = await post('/api/strategies/execute', huge);
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('1048576') } });

    // Chunked, no Content-Length: the server stops buffering at the limit and still answers.
    const streamed = await postChunked(`${server.url}/api/strategies/execute`, { 'content-type': 'application/json' }, 48);
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('400 for a Last-Event-ID or last_event_id that is not a seq', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 1, delay_ms: 0 });
    for (const init of [{ headers: { 'last-event-id': 'abc' } }, { headers: { 'last-event-id': '-1' } }]) {
      const { status, body } = await api(server.url, `/api/strategies/sse/${run.id}`, init);
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'BAD_USER_INPUT', details: [{ field: 'last_event_id', message: expect.any(String) }] });
    }
    const query = await api(server.url, `/api/strategies/sse/${run.id}?last_event_id=1.5`);
    expect(query.status).toBe(400);
    expect(query.body.error.code).toBe('BAD_USER_INPUT');
    expect(server.app.rest.openStreams()).toBe(0);
  });

  it('never shows a stack trace', async () => {
    const responses = [
      await post('/api/strategies/execute', '{oops'),
      await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 'x' } } }),
      await api(server.url, `/api/strategies/runs/${randomUUID()}/status`),
    ];
    for (const { body } of responses) expect(JSON.stringify(body)).not.toMatch(/\n\s+at |\.ts:\d+/);
  });
});
