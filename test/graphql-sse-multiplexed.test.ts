// runEvents over /graphql/stream in distinct-connections mode is served by the multiplexed
// stream (src/http/graphql/multiplexed-run-events.ts), everything else by graphql-sse's own
// handler. The two must be indistinguishable on the wire, and the multiplexed one must let go
// of everything when its client does.
import http from 'node:http';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { MultiplexedRunEvents } from '../src/http/graphql/multiplexed-run-events.js';
import { runEventHub } from '../src/events/run-event-hub.js';
import { waitFor } from './helpers/graphql.js';
import { scrapeMetrics } from './helpers/metrics.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const QUERY = 'subscription Watch($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq eventType stage progressPercent message status metrics } }';

interface RawStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The whole answer of one request, as bytes on the wire (until the server ends it). */
function rawRequest(method: 'GET' | 'POST', path: string, body?: string): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      new URL(path, server.url),
      { method, headers: { accept: 'text/event-stream', ...(body ? { 'content-type': 'application/json' } : {}) } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

it('writes exactly what graphql-sse writes: the same headers, messages and completion', async () => {
  const run = await execute(server.url, 'fixture_steps', { steps: 5 });
  await waitForStatus(server.url, run.id, ['COMPLETED']);
  const variables = { runId: run.id, afterSeq: 1 };
  // POST: the multiplexed stream. GET (the same operation in the URL): graphql-sse's handler.
  const served = vi.spyOn(MultiplexedRunEvents.prototype, 'serve');
  const multiplexed = await rawRequest('POST', '/graphql/stream', JSON.stringify({ query: QUERY, variables }));
  const search = new URLSearchParams({ query: QUERY, variables: JSON.stringify(variables) });
  const general = await rawRequest('GET', `/graphql/stream?${search}`);
  // The POST was streamed by the multiplexed path; the GET was left to graphql-sse's handler.
  expect(await Promise.all(served.mock.results.map((result) => result.value))).toEqual([true, false]);
  served.mockRestore();

  for (const answer of [multiplexed, general]) {
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-cache');
    expect(answer.headers['content-security-policy']).toBeDefined();
  }
  expect(multiplexed.body).toBe(general.body);
  // ":" first, one `next` per stored event after seq 1 (7 of them: status QUEUED…), then `complete`.
  const messages = multiplexed.body.split('\n\n').filter(Boolean);
  expect(messages[0]).toBe(':');
  expect(messages.at(-1)).toBe('event: complete\ndata:');
  const payloads = messages.slice(1, -1).map((message) => {
    expect(message.startsWith('event: next\ndata: ')).toBe(true);
    return JSON.parse(message.slice('event: next\ndata: '.length)) as { data: { runEvents: { seq: number } } };
  });
  expect(payloads.map((p) => p.data.runEvents.seq)).toEqual(payloads.map((_, i) => i + 2));
  expect(payloads.at(-1)!.data.runEvents).toMatchObject({ eventType: 'STATUS', status: 'COMPLETED' });
});

it('a coded error from the start (unknown run) is reported in the protocol, as graphql-sse reports it', async () => {
  const variables = { runId: '00000000-0000-4000-8000-000000000000' };
  const answer = await rawRequest('POST', '/graphql/stream', JSON.stringify({ query: QUERY, variables }));
  expect(answer.status).toBe(200);
  const next = answer.body.split('\n\n').find((message) => message.startsWith('event: next'))!;
  const payload = JSON.parse(next.slice('event: next\ndata: '.length)) as { errors: Array<{ extensions: { code: string } }> };
  expect(payload.errors[0]!.extensions.code).toBe('NOT_FOUND');
  expect(answer.body.endsWith('event: complete\ndata:\n\n')).toBe(true);
});

it('lets go of the subscription, the hub and the socket when the client leaves mid-run', async () => {
  const run = await execute(server.url, 'fixture_steps', { steps: 400, delay_ms: 20 });
  await waitForStatus(server.url, run.id, ['RUNNING']);
  const streams = Array.from({ length: 20 }, () => {
    const controller = new AbortController();
    const received = fetch(`${server.url}/graphql/stream`, {
      method: 'POST',
      signal: controller.signal,
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { runId: run.id } }),
    }).then(async (response) => {
      const reader = response.body!.getReader();
      // Read until a live progress event has arrived, then keep the stream open.
      let text = '';
      while (!text.includes('"PROGRESS"')) text += new TextDecoder().decode((await reader.read()).value);
      return reader;
    });
    return { controller, received };
  });
  await Promise.all(streams.map((s) => s.received));
  const open = await scrapeMetrics(server.url);
  expect(open.value('strategy_runner_graphql_subscriptions')).toBe(20);
  for (const stream of streams) stream.controller.abort();
  await waitFor(async () => ((await scrapeMetrics(server.url)).value('strategy_runner_graphql_subscriptions') === 0 ? true : undefined), 10_000, 'every subscription to end');
  expect(runEventHub(server.app.ctx.bus).watchedRuns()).toBe(0);
  await fetch(`${server.url}/api/strategies/runs/${run.id}/cancel`, { method: 'POST' });
  await waitForStatus(server.url, run.id, ['CANCELLED']);
});
