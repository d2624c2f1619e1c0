import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { EventSource } from 'eventsource';
import { createClient, type Client } from 'graphql-sse';

/** One received event: what the script stamped, what we saw, and when (wall clock, ms). */
export interface Received {
  seq: number;
  type: string;
  status: string | null;
  /** The event's `timestamp` (the script's own for progress lines), epoch ms. */
  emittedAt: number;
  /** Date.now() when the client callback ran. */
  receivedAt: number;
}

export interface WatchResult {
  events: Received[];
  /** performance.now() at the terminal status event (undefined if the stream ended without one). */
  terminalAt: number | undefined;
  terminalStatus: string | undefined;
  /** Date.now() when the subscription was asked for (events stamped before it were replayed). */
  subscribedAt: number;
  errors: unknown[];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/** A plain GraphQL over HTTP request (queries and mutations). */
export async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length || !body.data) throw new Error(`GraphQL error: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export interface RunTimes {
  id: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastSeq: number;
  exitCode: number | null;
}

export async function executeStrategy(url: string, strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const data = await gql<{ executeStrategy: { id: string } }>(
    url,
    'mutation($input: ExecuteStrategyInput!) { executeStrategy(input: $input) { id } }',
    { input: { strategy, parameters } },
  );
  return data.executeStrategy.id;
}

export async function runTimes(url: string, id: string): Promise<RunTimes> {
  const data = await gql<{ run: RunTimes | null }>(
    url,
    'query($id: ID!) { run(id: $id) { id status createdAt startedAt finishedAt lastSeq exitCode } }',
    { id },
  );
  if (!data.run) throw new Error(`run ${id} not found`);
  return data.run;
}

/** The reference graphql-sse client, distinct-connections mode (its default). */
export function graphqlSseClient(url: string): Client {
  return createClient({ url: `${url}/graphql/stream`, retryAttempts: 0 });
}

interface GqlEvent {
  seq: number;
  eventType: string;
  timestamp: string;
  status: string | null;
}

/** Subscribes to `runEvents` and resolves after the terminal status event (or the stream's end). */
export function watchGraphql(client: Client, runId: string, afterSeq = 0): Promise<WatchResult> {
  const result: WatchResult = { events: [], terminalAt: undefined, terminalStatus: undefined, subscribedAt: Date.now(), errors: [] };
  return new Promise((resolve) => {
    client.subscribe<{ runEvents: GqlEvent }>(
      {
        query: 'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq eventType timestamp status } }',
        variables: { runId, afterSeq },
      },
      {
        next(payload) {
          const receivedAt = Date.now();
          const event = payload.data?.runEvents;
          if (payload.errors) result.errors.push(payload.errors);
          if (!event) return;
          const type = event.eventType.toLowerCase();
          const status = event.status ? event.status.toLowerCase() : null;
          result.events.push({ seq: event.seq, type, status, emittedAt: Date.parse(event.timestamp), receivedAt });
          if (type === 'status' && status && TERMINAL.has(status)) {
            result.terminalAt = performance.now();
            result.terminalStatus = status;
          }
        },
        error(error) {
          result.errors.push(String(error));
          resolve(result);
        },
        complete() {
          resolve(result);
        },
      },
    );
  });
}

/**
 * Reads `GET /api/strategies/sse/{id}` with the `eventsource` package (a WHATWG EventSource),
 * closing it after the terminal status event.
 */
export function watchRest(url: string, runId: string): Promise<WatchResult> {
  const result: WatchResult = { events: [], terminalAt: undefined, terminalStatus: undefined, subscribedAt: Date.now(), errors: [] };
  return new Promise((resolve) => {
    const source = new EventSource(`${url}/api/strategies/sse/${runId}`);
    const timer = setTimeout(() => {
      result.errors.push('timeout after 10 min');
      source.close();
      resolve(result);
    }, 600_000);
    source.onmessage = (message: MessageEvent<string>) => {
      const receivedAt = Date.now();
      const event = JSON.parse(message.data) as { seq: number; event_type: string; timestamp: string; status?: string };
      const status = typeof event.status === 'string' ? event.status : null;
      result.events.push({ seq: event.seq, type: event.event_type, status, emittedAt: Date.parse(event.timestamp), receivedAt });
      if (event.event_type === 'status' && status && TERMINAL.has(status)) {
        result.terminalAt = performance.now();
        result.terminalStatus = status;
        clearTimeout(timer);
        source.close();
        resolve(result);
      }
    };
    source.onerror = (error) => {
      // EventSource reconnects by itself; only a closed source is final.
      if (source.readyState === EventSource.CLOSED) {
        result.errors.push(`eventsource closed: ${(error as { message?: string }).message ?? 'error'}`);
        clearTimeout(timer);
        resolve(result);
      }
    };
  });
}

export interface CliResult {
  wallMs: number;
  code: number | null;
  stdoutBytes: number;
  stderrTail: string;
}

/**
 * Runs a command the way a user would from a shell: its own stdout/stderr pipes, drained and
 * discarded, timed from spawn until the process has exited and its pipes have closed.
 */
export function runCli(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ wallMs: performance.now() - start, code, stdoutBytes, stderrTail: stderr }));
  });
}

/** The user's environment without the runner's protocol switch (standalone mode). */
export function standaloneEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.STRATEGY_PROGRESS;
  delete env.STRATEGY_RUN_ID;
  return env;
}
