/**
 * Wraps a generator so that `return()` (a client going away) takes effect at once: it aborts
 * the signal the generator waits on, instead of queueing behind the generator's pending await.
 */
export function abortable<T>(
  make: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>,
  outer?: AbortSignal,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort();
  if (outer?.aborted) controller.abort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const inner = make(controller.signal);
  const release = () => outer?.removeEventListener('abort', onOuterAbort);
  const wrapper: AsyncGenerator<T, void, undefined> = {
    async next() {
      const result = await inner.next();
      if (result.done) release();
      return result;
    },
    return(value) {
      controller.abort();
      release();
      return inner.return(value);
    },
    throw(error) {
      controller.abort();
      release();
      return inner.throw(error);
    },
    [Symbol.asyncIterator]() {
      return wrapper;
    },
    async [Symbol.asyncDispose]() {
      await wrapper.return(undefined);
    },
  } as AsyncGenerator<T, void, undefined>;
  return wrapper;
}
