import { AppError, isAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { EdgeMetrics } from '../../observability/metrics.js';

/**
 * A failure inside a subscription source must never escape: the GraphQL-SSE plugin takes the
 * whole process down when a started source throws (STACK.md pitfall 13). The guarded source
 * catches it and hands the field resolver a `StreamFailure`, which the resolver throws: a
 * coded GraphQL error in the last payload (see maskError in yoga.ts); then the stream ends.
 */
export class StreamFailure {
  constructor(readonly error: AppError) {}
}

export function guardSubscription<T>(
  source: AsyncIterable<T>,
  log: Logger,
  /** Counts the subscription as open until it ends, however it ends. */
  metrics?: Pick<EdgeMetrics, 'subscriptionOpened'>,
): AsyncIterableIterator<T | StreamFailure> {
  const iterator = source[Symbol.asyncIterator]();
  let failed = false;
  const closed = metrics?.subscriptionOpened() ?? (() => {});
  // A plain iterator, not an async generator: `return()` must reach the source at once
  // (a generator would queue it behind a pending `next()` that may wait for a long time).
  const guarded: AsyncIterableIterator<T | StreamFailure> = {
    async next() {
      if (failed) return { done: true, value: undefined };
      try {
        const result = await iterator.next();
        if (result.done) closed();
        return result;
      } catch (error) {
        failed = true;
        closed();
        log.error({ err: error }, 'subscription source failed');
        return { done: false, value: new StreamFailure(toAppError(error)) };
      }
    },
    async return() {
      failed = true;
      closed();
      await iterator.return?.().catch(() => undefined);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return guarded;
    },
  };
  return guarded;
}

function toAppError(error: unknown): AppError {
  return isAppError(error)
    ? error
    : new AppError('SUBSCRIPTION_FAILED', 'The event stream failed; subscribe again to resume (pass afterSeq).');
}

/** The field resolver's side: pass values through, raise the failure as a field error. */
export function unwrapStreamValue<T>(value: T | StreamFailure): T {
  if (value instanceof StreamFailure) throw value.error;
  return value;
}
