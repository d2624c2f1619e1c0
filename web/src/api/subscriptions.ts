import { createClient, type Client } from 'graphql-sse';
import type { TypedDocumentString } from '../gql/graphql.js';
import { AuthRequiredError, GraphQLRequestError, toRequestError } from './graphql-client.js';

/**
 * Subscriptions over GraphQL over SSE (`/graphql/stream`), in single connection mode: one
 * stream carries every subscription of the tab, so the browser's six connections per host are
 * never used up by a queue view watching several runs.
 *
 * graphql-sse has no resume (a retry re-runs the same operation with the same variables), so
 * its own retries are off and `subscribeResumable` reconnects itself with backoff, asking for
 * fresh variables each time (for `runEvents`: `afterSeq` = the last seq applied): no gap, no
 * duplicate.
 */

let client: Client<true> | undefined;
/** The shared stream is open (graphql-sse's `connected` event, per connection). */
let streamOpen = false;
const onStreamOpen = new Set<() => void>();

function sseClient(): Client<true> {
  client ??= createClient({
    url: '/graphql/stream',
    singleConnection: true,
    lazy: true,
    retryAttempts: 0,
    credentials: 'same-origin',
    on: {
      connecting: () => {
        streamOpen = false;
      },
      connected: () => {
        streamOpen = true;
        for (const listener of onStreamOpen) listener();
      },
    },
  });
  return client;
}

/**
 * Closes the shared stream (after signing out): it was opened with the old session, and the
 * next subscription opens a new one with whatever cookie the browser holds then.
 */
export function closeStream(): void {
  void client?.dispose();
  client = undefined;
  streamOpen = false;
}

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'stale' | 'done';

export interface ResumableHandlers<TResult> {
  next(data: TResult): void;
  /** The server ended the subscription normally (e.g. after a run's terminal event). */
  complete?(): void;
  /** A coded error from the server (NOT_FOUND, UNAUTHENTICATED, …); the subscription stops. */
  error?(error: GraphQLRequestError): void;
  state?(state: ConnectionState): void;
  /** After a reconnect, before the subscription is re-run (e.g. to refetch lists). */
  reconnected?(): void;
}

/** Disconnected longer than this: the data on screen is stale. */
const STALE_AFTER_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;

export function subscribeResumable<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: () => TVariables,
  handlers: ResumableHandlers<TResult>,
): () => void {
  let disposed = false;
  let stop: (() => void) | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let staleTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let disconnectedSince: number | undefined;
  let waitingForOpen: (() => void) | undefined;

  const setState = (state: ConnectionState) => handlers.state?.(state);

  const connect = () => {
    if (disposed) return;
    let sawData = false;
    setState(attempt === 0 ? 'connecting' : 'reconnecting');
    stop = sseClient().subscribe<TResult>(
      { query: document.toString(), variables: variables() as Record<string, unknown> },
      {
        next: (message) => {
          if (disposed) return;
          if (message.errors?.length) {
            const error = toRequestError(message.errors as never);
            disposed = true;
            setState('done');
            handlers.error?.(error);
            return;
          }
          if (!sawData) {
            sawData = true;
            markLive();
          }
          if (message.data) handlers.next(message.data);
        },
        complete: () => {
          if (disposed) return;
          disposed = true;
          clearTimers();
          setState('done');
          handlers.complete?.();
        },
        error: (error: unknown) => {
          if (disposed) return;
          const coded = asCodedError(error);
          if (coded) {
            disposed = true;
            setState('done');
            handlers.error?.(coded);
            return;
          }
          scheduleReconnect();
        },
      },
    );
    // Live as soon as the shared stream is open (already, or when it opens).
    if (waitingForOpen) onStreamOpen.delete(waitingForOpen);
    const opened = () => {
      onStreamOpen.delete(opened);
      waitingForOpen = undefined;
      if (!disposed && retry === undefined) markLive();
    };
    if (streamOpen) queueMicrotask(opened);
    else {
      waitingForOpen = opened;
      onStreamOpen.add(opened);
    }
  };

  const markLive = () => {
    clearTimers();
    attempt = 0;
    disconnectedSince = undefined;
    setState('live');
  };

  const scheduleReconnect = () => {
    stop = undefined;
    disconnectedSince ??= Date.now();
    setState('reconnecting');
    if (staleTimer === undefined) {
      staleTimer = setTimeout(() => {
        if (!disposed) setState('stale');
      }, Math.max(0, STALE_AFTER_MS - (Date.now() - disconnectedSince)));
    }
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    attempt += 1;
    retry = setTimeout(() => {
      retry = undefined;
      handlers.reconnected?.();
      connect();
    }, delay);
  };

  const clearTimers = () => {
    if (staleTimer !== undefined) clearTimeout(staleTimer);
    staleTimer = undefined;
  };

  connect();
  return () => {
    disposed = true;
    if (waitingForOpen) onStreamOpen.delete(waitingForOpen);
    clearTimers();
    if (retry !== undefined) clearTimeout(retry);
    stop?.();
  };
}

/** graphql-sse hands over GraphQL errors as an array, and a 401 as a Response-like error. */
function asCodedError(error: unknown): GraphQLRequestError | undefined {
  if (Array.isArray(error) && error.length && typeof error[0]?.message === 'string') return toRequestError(error);
  if (error instanceof AuthRequiredError) return error;
  const status = (error as { response?: { status?: number } } | null)?.response?.status;
  if (status === 401) return toRequestError([], 401);
  if (error instanceof Error && /\b401\b/.test(error.message)) return toRequestError([], 401);
  return undefined;
}
