import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

// GraphQL over HTTP conformance of POST/GET /graphql, checked with the graphql-http audits
// (the reference suite of the spec) against the real server and a real fetch.

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

describe('GraphQL over HTTP audits (graphql-http) on /graphql', () => {
  it('has no audit in error (warnings and notices are reported, not failed)', async () => {
    const audits = serverAudits({ url: `${server.url}/graphql`, fetchFn: fetch });
    const results: AuditResult[] = [];
    for (const audit of audits) results.push(await audit.fn());

    const failed = results.filter((r) => r.status !== 'ok');
    const describeFailure = async (r: AuditResult): Promise<string> => {
      if (r.status === 'ok') return `${r.id} ${r.name}`;
      let body = '';
      try {
        body = (await r.response.clone().text()).slice(0, 300);
      } catch {
        /* body already consumed */
      }
      return `[${r.status}] ${r.id} ${r.name}\n    reason: ${r.reason}\n    response: ${r.response.status} ${r.response.headers.get('content-type') ?? ''} ${body}`;
    };
    for (const r of failed.filter((f) => f.status !== 'error')) console.warn(await describeFailure(r));
    const count = (status: string) => results.filter((r) => r.status === status).length;
    console.info(`graphql-http audits: ${results.length} run, ${count('ok')} ok, ${count('notice')} notice, ${count('warn')} warn, ${count('error')} error`);

    const errors = failed.filter((r) => r.status === 'error');
    const errorReport = await Promise.all(errors.map(describeFailure));
    expect(errorReport, `audit errors:\n${errorReport.join('\n')}`).toEqual([]);
    // Sanity: the audits actually ran against a live server.
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((r) => r.status === 'ok').length).toBeGreaterThan(20);
  });
});
