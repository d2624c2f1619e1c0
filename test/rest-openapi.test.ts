import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_ROUTES } from '../src/http/rest/router.js';
import { api } from './helpers/rest.js';
import { waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let document: any;
beforeAll(async () => {
  server = await startTestServer();
  document = (await api(server.url, '/api/openapi.json')).body;
});
afterAll(() => server.close());

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The document's component schemas, compiled so real answers can be checked against them. */
function schemaValidator(name: string) {
  const ajv = new Ajv2020({ strict: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'doc', components: document.components });
  return ajv.compile({ $ref: `doc#/components/schemas/${name}` });
}

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('describes exactly the routes the router serves', () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) => Object.keys(item).filter((k) => METHODS.includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(REST_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('documents every status code the routes answer', () => {
    const codes = (path: string, method: string) => Object.keys(document.paths[path][method].responses).sort();
    expect(codes('/api/strategies/execute', 'post')).toEqual(['202', '400', '404', '413']);
    expect(codes('/api/strategies/sse/{run_id}', 'get')).toEqual(['200', '204', '400', '404', '429']);
    expect(codes('/api/strategies/runs/{run_id}/status', 'get')).toEqual(['200', '404']);
    expect(codes('/api/strategies/runs/{run_id}/cancel', 'post')).toEqual(['200', '404', '409']);
  });

  it('matches what the server really answers', async () => {
    const strategies = await api(server.url, '/api/strategies');
    const strategy = schemaValidator('Strategy');
    for (const s of strategies.body) expect(strategy(s), JSON.stringify(strategy.errors)).toBe(true);

    const executed = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: 2, delay_ms: 0 } } });
    const executeResponse = schemaValidator('ExecuteResponse');
    expect(executeResponse(executed.body), JSON.stringify(executeResponse.errors)).toBe(true);

    await waitForStatus(server.url, executed.body.run_id, ['COMPLETED']);
    const status = await api(server.url, executed.body.status_url);
    const runStatus = schemaValidator('RunStatus');
    expect(runStatus(status.body), JSON.stringify(runStatus.errors)).toBe(true);

    const error = schemaValidator('Error');
    const bad = await api(server.url, '/api/strategies/execute', { json: { strategy: 'fixture_steps', parameters: { steps: -1 } } });
    expect(bad.status).toBe(400);
    expect(error(bad.body), JSON.stringify(error.errors)).toBe(true);

    const events = await fetch(`${server.url}${executed.body.sse_url}`).then((r) => r.text());
    const runEvent = schemaValidator('RunEvent');
    const data = [...events.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
    expect(data.length).toBeGreaterThan(3);
    for (const event of data) expect(runEvent(event), JSON.stringify(runEvent.errors)).toBe(true);
  });
});
