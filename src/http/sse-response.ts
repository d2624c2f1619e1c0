import type http from 'node:http';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';

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

/** An event stream to write: its head, and a message per item of `items`. */
export interface MessageStream<T> {
  readonly status: number;
  readonly headers: http.OutgoingHttpHeaders;
  readonly items: AsyncIterator<T>;
  /** The message of one item (already one when the items are messages). */
  readonly format: (item: T) => string | Promise<string>;
  /** Written at once, before any item. */
  readonly first?: string;
  /** Written when the items end (not when the client left). */
  readonly last?: string;
  /** Writes `:` comments this often while the socket keeps up (keep-alive). */
  readonly pingMs?: number;
}

/**
 * Takes the connection over (`reply.hijack()`) and writes the stream's messages as they come,
 * a tick's messages in one socket write, waiting for 'drain' when the client is slow. The client
 * going away ends the items (`return()`); an item source that fails ends the response.
 */
export async function streamMessages<T>(reply: FastifyReply, stream: MessageStream<T>, log: FastifyBaseLogger): Promise<void> {
  const res = reply.raw;
  const { items } = stream;
  reply.hijack();
  // The headers hooks set so far (security headers, request id) go out too.
  res.writeHead(stream.status, { ...definedHeaders(reply.getHeaders()), ...stream.headers, 'x-accel-buffering': 'no' });
  if (stream.first) res.write(stream.first);
  const ping = stream.pingMs
    ? setInterval(() => {
        if (!res.writableNeedDrain && !res.writableEnded) res.write(':\n\n');
      }, stream.pingMs)
    : undefined;
  const stop = () => void items.return?.();
  res.once('close', stop);
  const corker = new WriteCorker(res);
  try {
    for (;;) {
      const step = await items.next();
      if (step.done || res.destroyed) break;
      const formatted = stream.format(step.value);
      const message = typeof formatted === 'string' ? formatted : await formatted;
      corker.cork();
      if (!res.write(message)) await drained(res);
    }
    if (!res.destroyed) res.end(stream.last);
  } catch (error) {
    log.warn({ err: error }, 'event stream failed mid-way');
    res.destroy();
  } finally {
    clearInterval(ping);
    res.off('close', stop);
    stop();
  }
}
