import { createClient, type ExecutionResult } from 'graphql-sse';
import { ApiClient, authHeaders, type Connection, unreachable } from './api-client.js';
import { CliError } from './cli-error.js';

/**
 * Follows a run's events through GraphQL over SSE (the `graphql-sse` client) until its
 * terminal status. graphql-sse has no resume of its own, so a dropped connection is followed
 * by a new subscription with `afterSeq` = the last seq seen: no gap, and anything seen twice
 * (by seq) is dropped, so no duplicate either.
 */

export interface WatchedEvent {
  seq: number;
  eventType: 'PROGRESS' | 'LOG' | 'STATUS' | 'RESULT' | 'ERROR';
  timestamp: string;
  stage: string | null;
  progressPercent: number | null;
  currentItem: string | null;
  totalItems: number | null;
  completedItems: number | null;
  message: string | null;
  metrics: Record<string, unknown> | null;
  status: string | null;
  level: string | null;
  data: unknown;
  exitCode: number | null;
  error: { code: string; message: string } | null;
}

const SUBSCRIPTION = `subscription Follow($runId: ID!, $afterSeq: Int) {
  runEvents(runId: $runId, afterSeq: $afterSeq) {
    seq eventType timestamp stage progressPercent currentItem totalItems completedItems
    message metrics status level data exitCode error { code message }
  }
}`;

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export interface FollowOptions {
  /** Events after this seq. @default 0 */
  afterSeq?: number;
  onEvent(event: WatchedEvent): void;
  /** A connection dropped; following resumes after `lastSeq`. */
  onReconnect?(lastSeq: number, attempt: number): void;
  /** Consecutive failed connections before giving up. @default 20 */
  maxAttempts?: number;
}

/** Resolves with the terminal status (`COMPLETED`, `FAILED` or `CANCELLED`). */
export async function followRun(connection: Connection, runId: string, options: FollowOptions): Promise<string> {
  let last = options.afterSeq ?? 0;
  let failures = 0;
  const maxAttempts = options.maxAttempts ?? 20;
  for (;;) {
    const client = createClient({
      url: `${connection.url}/graphql/stream`,
      headers: () => authHeaders(connection),
      retryAttempts: 0,
    });
    let lastError: unknown;
    try {
      const stream = client.iterate<{ runEvents: WatchedEvent }, { code?: string }>({ query: SUBSCRIPTION, variables: { runId, afterSeq: last } });
      for await (const result of stream as AsyncIterable<ExecutionResult<{ runEvents: WatchedEvent }, { code?: string }>>) {
        if (result.errors?.length) {
          const [error] = result.errors;
          // A stream the server ended on its side is resumed; anything else is the answer.
          if (error?.extensions?.code === 'SUBSCRIPTION_FAILED') break;
          throw new CliError(error?.message ?? 'The server refused to stream the run');
        }
        const event = result.data?.runEvents;
        if (!event) continue;
        failures = 0;
        if (event.seq <= last) continue;
        last = event.seq;
        options.onEvent(event);
        if (event.eventType === 'STATUS' && event.status && TERMINAL.has(event.status)) return event.status;
      }
    } catch (error) {
      if (error instanceof CliError) throw error;
      const status = (error as { response?: { status?: number } }).response?.status;
      if (status === 401 || status === 403) throw new CliError(`The server at ${connection.url} refused the stream (HTTP ${status}); check --token`);
      lastError = error;
    } finally {
      client.dispose();
    }
    // The stream ended without the terminal status: the run may have ended with nothing newer
    // for us (its end was at or before `last`), or the connection dropped.
    const run = await new ApiClient(connection).status(runId).catch((error: unknown) => {
      if (error instanceof CliError && error.exitCode !== 3) throw error;
      return undefined;
    });
    if (run && TERMINAL.has(run.status.toUpperCase()) && run.last_seq <= last) return run.status.toUpperCase();
    failures += 1;
    if (failures > maxAttempts) throw unreachable(connection.url, lastError ?? new Error('the stream kept ending early'));
    options.onReconnect?.(last, failures);
    await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** (failures - 1), 3000)));
  }
}
