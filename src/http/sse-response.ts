import type http from 'node:http';

/**
 * Writing an event stream straight to Node's response, shared by both streaming faces (REST SSE
 * and GraphQL over SSE): the socket sees one write per tick instead of one per message, and a
 * slow client holds back only its own stream.
 */

/**
 * Messages of one batch arrive together (the event writer publishes a committed batch at once,
 * and every stream of a run gets it in the same tick): corked until the tick's microtasks are
 * done, they leave as one socket write instead of one system call per message.
 */
export class WriteCorker {
  private corked = false;

  constructor(private readonly res: http.ServerResponse) {}

  cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.res.cork();
    // nextTick runs once the current microtask queue is empty: after every stream of the batch.
    process.nextTick(() => {
      this.corked = false;
      this.res.uncork();
    });
  }
}

/** Resolves when the response can take more, or when the connection is gone. */
export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

/** Fastify's pending headers (security headers, request id) without the unset ones, for `writeHead`. */
export function definedHeaders(headers: Record<string, string | number | string[] | undefined>): http.OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined));
}
