import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.js';
import { gql } from './helpers/graphql.js';
import { api, postChunked } from './helpers/rest.js';
import { waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { bearer, createToken } from './helpers/tokens.js';

// AUTH=tokens in a browser and at the limits: the signed sse_url in a real EventSource, the
// per-token execute rate, and bodies bounded on the GraphQL routes however they are sent.

let server: TestServer;
let operator: string;
let other: string;
beforeAll(async () => {
  server = await startTestServer({ AUTH: 'tokens', EXECUTE_RATE_PER_MINUTE: '3' });
  operator = await createToken(server.database.url, 'rate-a', 'operator');
  other = await createToken(server.database.url, 'rate-b', 'operator');
});
afterAll(() => server.close());

const RUN = { strategy: 'fixture_steps', parameters: { steps: 3, delay_ms: 20 } };

it('the signed sse_url works in a plain EventSource in Chromium, with no header and no cookie', async () => {
  const { body } = await api(server.url, '/api/strategies/execute', { json: RUN, headers: bearer(operator) });
  await waitForStatus(server.url, body.run_id, ['COMPLETED']).catch(() => undefined);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    // A page of this origin with no credentials at all (the probe answers without a token).
    await page.goto(`${server.url}/healthz`);
    const received = await page.evaluate(
      (sseUrl) =>
        new Promise<{ statuses: string[]; seqs: number[] }>((resolve, reject) => {
          const source = new EventSource(sseUrl);
          const seqs: number[] = [];
          const statuses: string[] = [];
          source.onmessage = (message) => {
            const event = JSON.parse(message.data);
            seqs.push(event.seq);
            if (event.event_type === 'status') statuses.push(event.status);
            if (['completed', 'failed', 'cancelled'].includes(event.status)) {
              source.close();
              resolve({ statuses, seqs });
            }
          };
          source.onerror = () => {
            if (source.readyState === EventSource.CLOSED) reject(new Error('stream refused'));
          };
          setTimeout(() => reject(new Error('no terminal event within 15 s')), 15_000);
        }),
      body.sse_url,
    );
    expect(received.statuses.at(-1)).toBe('completed');
    expect(received.seqs).toEqual(Array.from({ length: received.seqs.length }, (_, i) => i + 1));
  } finally {
    await browser.close();
  }
});

it('EXECUTE_RATE_PER_MINUTE: a token past its rate gets 429 RESOURCE_EXHAUSTED on both faces; other tokens go on', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 2; i += 1) statuses.push((await api(server.url, '/api/strategies/execute', { json: RUN, headers: bearer(operator) })).status);
  // The first test used one of its three.
  expect(statuses).toEqual([202, 202]);
  const refused = await api(server.url, '/api/strategies/execute', { json: RUN, headers: bearer(operator) });
  expect(refused.status).toBe(429);
  expect(refused.body.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('per minute') });
  const viaGraphql = await gql(server.url, 'mutation($i: ExecuteStrategyInput!) { executeStrategy(input: $i) { id } }', { i: RUN }, bearer(operator));
  expect(viaGraphql.errors?.[0]?.extensions?.code).toBe('RESOURCE_EXHAUSTED');
  expect((await api(server.url, '/api/strategies/execute', { json: RUN, headers: bearer(other) })).status).toBe(202);
});

it('bodies over MAX_BODY_BYTES are refused on /graphql and /graphql/stream, chunked or declared, with 413', async () => {
  const big = JSON.stringify({ query: `{ strategies { name } } # ${'x'.repeat(2 * 1024 * 1024)}` });
  const declared = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(operator) }, body: big });
  expect(declared.status).toBe(413);
  expect((await declared.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  // 50 MB in chunks with no length: the server stops reading at the limit and answers at once.
  const chunked = await postChunked(`${server.url}/graphql/stream`, { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(operator) }, 800);
  expect(chunked.status).toBe(413);
  expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
});
