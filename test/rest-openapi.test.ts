import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, readSse } from './helpers/rest.js';
import { waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The OpenAPI document is generated from the route schemas. Every REST answer of the whole
// suite is checked against it (test/helpers/openapi-conformance.ts); this file checks the
// document itself, and that it is exact: what it allows is accepted, what it forbids refused.

let server: TestServer;
let document: any;
beforeAll(async () => {
  server = await startTestServer();
  document = (await api(server.url, '/api/openapi.json')).body;
});
afterAll(() => server.close());

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** A schema of the document (by JSON pointer), compiled to check values against it. */
function validatorAt(pointer: string) {
  const ajv = new Ajv2020({ strict: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ ...document, $id: 'doc' });
  return ajv.compile({ $ref: `doc#${pointer}` });
}
const bodySchema = () => validatorAt('/paths/~1api~1strategies~1execute/post/requestBody/content/application~1json/schema');
function parameterSchema(path: string, name: string) {
  const escaped = path.replaceAll('/', '~1');
  const index = document.paths[path].get.parameters.findIndex((p: any) => p.name === name);
  expect(index, `${path} documents ${name}`).toBeGreaterThanOrEqual(0);
  return validatorAt(`/paths/${escaped}/get/parameters/${index}/schema`);
}

/** A query value as OpenAPI tooling reads it: numbers for a parameter whose schema is numeric. */
function asQueryValue(path: string, name: string, value: string): unknown {
  const { schema } = document.paths[path].get.parameters.find((p: any) => p.name === name);
  return ['integer', 'number'].includes(schema.type) && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes exactly the routes of CONTRACT §4 and §5, and the server serves each of them', async () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(
      [
        'GET /api/strategies',
        'POST /api/strategies/execute',
        'GET /api/strategies/sse/{run_id}',
        'GET /api/strategies/runs',
        'GET /api/strategies/runs/{run_id}/status',
        'GET /api/strategies/runs/{run_id}/events',
        'POST /api/strategies/runs/{run_id}/cancel',
        'POST /api/session',
        'GET /api/session',
        'DELETE /api/session',
        'GET /api/tokens',
      ].sort(),
    );
    for (const route of documented) {
      const [method, path] = route.split(' ') as [string, string];
      const fastifyUrl = path.replace(/\{(\w+)\}/g, ':$1');
      expect(server.app.http.hasRoute({ method, url: fastifyUrl }), route).toBe(true);
    }
  });

  it('documents every status code the routes answer', () => {
    const codes = (path: string, method: string) => Object.keys(document.paths[path][method].responses).sort();
    const refused = ['401', '403'];
    expect(codes('/api/strategies/execute', 'post')).toEqual(['200', '202', '400', ...refused, '404', '409', '413', '415', '429', '503']);
    expect(codes('/api/strategies/sse/{run_id}', 'get')).toEqual(['200', '204', '400', ...refused, '404', '429']);
    expect(codes('/api/strategies/runs/{run_id}/status', 'get')).toEqual(['200', ...refused, '404']);
    expect(codes('/api/strategies/runs/{run_id}/cancel', 'post')).toEqual(['200', ...refused, '404', '409']);
    expect(codes('/api/strategies/runs', 'get')).toEqual(['200', '400', ...refused]);
    expect(codes('/api/strategies/runs/{run_id}/events', 'get')).toEqual(['200', '400', ...refused, '404']);
    expect(Object.keys(document.paths['/api/strategies/sse/{run_id}'].get.responses['200'].content)).toEqual(['text/event-stream']);
  });

  it('matches what the server really answers', async () => {
    // api() checks each answer against the document; here the schemas are also named.
    const strategies = await api(server.url, '/api/strategies');
    const strategy = validatorAt('/components/schemas/Strategy');
    for (const s of strategies.body) expect(strategy(s), JSON.stringify(strategy.errors)).toBe(true);

    const executed = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 2, delay_ms: 0 } } });
    expect(executed.status).toBe(202);
    await waitForStatus(server.url, executed.body.run_id, ['COMPLETED']);
    const status = await api(server.url, executed.body.status_url);
    const runStatus = validatorAt('/components/schemas/RunStatus');
    expect(runStatus(status.body), JSON.stringify(runStatus.errors)).toBe(true);

    const bad = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: -1 } } });
    expect(bad.status).toBe(400);
    const error = validatorAt('/components/schemas/Error');
    expect(error(bad.body), JSON.stringify(error.errors)).toBe(true);

    const events = await readSse(`${server.url}${executed.body.sse_url}`);
    const runEvent = validatorAt('/components/schemas/RunEvent');
    const data = events.messages.map((m) => JSON.parse(m.data));
    expect(data.length).toBeGreaterThan(3);
    for (const event of data) expect(runEvent(event), JSON.stringify(runEvent.errors)).toBe(true);
  });
});

describe('the document is exact', () => {
  it('execute: bodies the document allows are accepted, bodies it forbids are refused', async () => {
    const allows = bodySchema();
    const cases: { body: unknown; allowed: boolean }[] = [
      { body: { strategy: 'fixture_steps', parameters: { steps: 1, delay_ms: 0 } }, allowed: true },
      { body: { strategy: 'fixture_steps' }, allowed: true },
      { body: { strategy: '' }, allowed: false },
      { body: { strategy: 7 }, allowed: false },
      { body: { parameters: {} }, allowed: false },
      { body: { strategy: 'fixture_steps', parameters: [1] }, allowed: false },
      { body: { strategy: 'fixture_steps', parameters: null }, allowed: false },
      { body: [1, 2], allowed: false },
      { body: 'fixture_steps', allowed: false },
    ];
    for (const { body, allowed } of cases) {
      expect(allows(body), `document on ${JSON.stringify(body)}`).toBe(allowed);
      const answer = await api(server.url, '/api/strategies/execute', { json: body });
      if (allowed) expect(answer.status, JSON.stringify(body)).toBe(202);
      else expect(answer.body.error.code, JSON.stringify(body)).toBe('BAD_USER_INPUT');
    }
  });

  it('query parameters and Last-Event-ID: what the document allows is accepted, what it forbids is refused', async () => {
    const executed = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 1, delay_ms: 0 } } });
    await waitForStatus(server.url, executed.body.run_id, ['COMPLETED']);
    const run = executed.body.run_id;
    const cases: { path: string; param: string; value: string; allowed: boolean; url: string }[] = [
      ...['0', '3', '999999999999999'].map((value) => ({ value, allowed: true })),
      ...['', '-1', '1.5', 'abc', '1000000000000000', '０'].map((value) => ({ value, allowed: false })),
    ].flatMap(({ value, allowed }) => [
      { path: '/api/strategies/sse/{run_id}', param: 'last_event_id', value, allowed, url: `/api/strategies/sse/${run}?last_event_id=${encodeURIComponent(value)}` },
      { path: '/api/strategies/runs/{run_id}/events', param: 'after_seq', value, allowed, url: `/api/strategies/runs/${run}/events?after_seq=${encodeURIComponent(value)}` },
    ]);
    cases.push(
      ...[
        ['limit', '1', true],
        ['limit', '100', true],
        ['limit', '0', false],
        ['limit', '101', false],
        ['limit', 'ten', false],
        ['status', 'queued,running', true],
        ['status', 'queued,', false],
        ['status', 'QUEUED', false],
        ['cursor', '12', true],
        ['cursor', '0', false],
        ['cursor', 'abc', false],
      ].map(([param, value, allowed]) => ({
        path: '/api/strategies/runs',
        param: param as string,
        value: value as string,
        allowed: allowed as boolean,
        url: `/api/strategies/runs?${param}=${encodeURIComponent(value as string)}`,
      })),
    );
    for (const { path, param, value, allowed, url } of cases) {
      expect(parameterSchema(path, param)(asQueryValue(path, param, value)), `document on ${param}=${value}`).toBe(allowed);
      const answer = url.includes('/sse/') ? await readSse(`${server.url}${url}`) : await api(server.url, url);
      if (allowed) expect([200, 204], `${url}`).toContain(answer.status);
      else expect(answer.status, url).toBe(400);
    }
    // The header, as EventSource sends it.
    const tooLong = await readSse(`${server.url}/api/strategies/sse/${run}`, { headers: { 'last-event-id': '1000000000000000' } });
    expect(tooLong.status).toBe(400);
    expect(parameterSchema('/api/strategies/sse/{run_id}', 'last-event-id')('1000000000000000')).toBe(false);
  });
});
