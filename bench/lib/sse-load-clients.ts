/**
 * Many raw SSE clients in a process of their own, so their parsing neither shares the server's
 * event loop nor counts in its memory. The same client code reads every arm (REST SSE,
 * GraphQL-SSE distinct connections, the bare node:http floor): only the request differs.
 *
 *   node --import tsx bench/lib/sse-load-clients.ts KIND URL COUNT [RUN_ID] [idle]
 *
 * Prints `{"ready":true}` once every connection has its response headers; then, with `idle`,
 * holds the connections until stdin closes; otherwise reads every stream to its end and prints
 * `{"clients":[[seq, receivedAtMs, …], …]}` (one flat array per client).
 */
import http from 'node:http';

type Kind = 'rest' | 'graphql' | 'raw';
const [kind, url, countText, runId = '', idleFlag] = process.argv.slice(2) as [Kind, string, string, string?, string?];
const count = Number(countText);
const idle = idleFlag === 'idle';

const SUBSCRIPTION =
  'subscription($runId: ID!) { runEvents(runId: $runId) { seq eventType timestamp stage progressPercent currentItem totalItems completedItems message metrics status } }';

function open(received: number[], onReady: () => void, onEnd: () => void): http.ClientRequest {
  const target = new URL(kind === 'rest' ? `/api/strategies/sse/${runId}` : kind === 'graphql' ? '/graphql/stream' : '/', url);
  const body = kind === 'graphql' ? JSON.stringify({ query: SUBSCRIPTION, variables: { runId } }) : undefined;
  const request = http.request(
    target,
    {
      method: body ? 'POST' : 'GET',
      agent: false,
      headers: { accept: 'text/event-stream', ...(body ? { 'content-type': 'application/json' } : {}) },
    },
    (response) => {
      if (response.statusCode !== 200) {
        process.stderr.write(`${kind}: HTTP ${response.statusCode}\n`);
        process.exit(1);
      }
      onReady();
      response.setEncoding('utf8');
      let buffer = '';
      response.on('data', (chunk: string) => {
        const now = Date.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const at = message.indexOf('data: ');
          if (at < 0) continue; // retry hint, heartbeat comment
          const newline = message.indexOf('\n', at);
          const data = JSON.parse(message.slice(at + 6, newline < 0 ? undefined : newline)) as {
            seq?: number;
            data?: { runEvents?: { seq: number } };
          };
          const seq = kind === 'graphql' ? data.data?.runEvents?.seq : data.seq;
          if (seq !== undefined) received.push(seq, now);
        }
      });
      response.on('end', onEnd);
      response.on('error', onEnd);
    },
  );
  request.on('error', (error) => {
    process.stderr.write(`${kind}: ${error.message}\n`);
    process.exit(1);
  });
  request.end(body);
  return request;
}

const clients: number[][] = [];
const requests: http.ClientRequest[] = [];
let ready = 0;
let ended = 0;
for (let i = 0; i < count; i += 1) {
  const received: number[] = [];
  clients.push(received);
  requests.push(
    open(
      received,
      () => {
        ready += 1;
        if (ready === count) process.stdout.write('{"ready":true}\n');
      },
      () => {
        ended += 1;
        if (ended === count && !idle) process.stdout.write(`${JSON.stringify({ clients })}\n`, () => process.exit(0));
      },
    ),
  );
}
if (idle) {
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const request of requests) request.destroy();
    process.exit(0);
  });
}
