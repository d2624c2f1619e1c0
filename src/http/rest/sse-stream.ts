import type { FastifyReply } from 'fastify';
import { memoPerEvent } from '../../events/run-event-hub.js';
import type { RunEvent } from '../../model/run-event.js';
import type { AppContext } from '../../resolvers/context.js';
import { watchRunEvents } from '../../resolvers/run-events.js';
import { HttpError } from '../http-errors.js';
import { definedHeaders, drained, WriteCorker } from '../sse-response.js';

/**
 * `GET /api/strategies/sse/{run_id}` (CONTRACT §4): the run's events as unnamed SSE messages,
 * `id` = seq, `data` = the stored event JSON as-is; history first, then live, closed after the
 * terminal status event. A (re)connect with nothing newer to send to a finished run gets 204,
 * which makes EventSource stop instead of reconnecting forever.
 *
 * Every stream is tied to its connection: the client going away aborts the event generator
 * (which unsubscribes from the bus) and clears the heartbeat timer.
 */

/** Reconnect delay suggested to EventSource. */
export const SSE_RETRY_MS = 3000;

/** What tests read to prove streams and timers are released. */
export interface RestStats {
  /** Open SSE streams, of one run or of all. */
  openStreams(runId?: string): number;
  /** Heartbeat timers still scheduled. */
  heartbeatTimers(): number;
  /** Times a stream waited for a slow client ('drain'). */
  drainWaits(): number;
}

/** Open streams and live heartbeat timers, per run; tests read them to prove nothing leaks. */
export class SseStreamRegistry implements RestStats {
  private readonly perRun = new Map<string, number>();
  private timers = 0;
  private waits = 0;

  constructor(private readonly maxPerRun: number) {}

  /** Reserves a slot for `runId`, or throws 429 when the run already has `maxPerRun` streams. */
  acquire(runId: string): () => void {
    const open = this.perRun.get(runId) ?? 0;
    if (open >= this.maxPerRun) {
      throw new HttpError('TOO_MANY_STREAMS', `Run ${runId} already has ${open} open streams (at most ${this.maxPerRun}); close one and retry.`);
    }
    this.perRun.set(runId, open + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.perRun.get(runId) ?? 1) - 1;
      if (left > 0) this.perRun.set(runId, left);
      else this.perRun.delete(runId);
    };
  }

  startTimer(callback: () => void, ms: number): () => void {
    const timer = setInterval(callback, ms);
    this.timers += 1;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.timers -= 1;
      clearInterval(timer);
    };
  }

  openStreams(runId?: string): number {
    if (runId !== undefined) return this.perRun.get(runId) ?? 0;
    let total = 0;
    for (const count of this.perRun.values()) total += count;
    return total;
  }

  heartbeatTimers(): number {
    return this.timers;
  }

  /** Times a stream waited for 'drain' (a slow client pushing back). */
  drainWaits(): number {
    return this.waits;
  }

  countDrainWait(): void {
    this.waits += 1;
  }
}

/**
 * Streams the run's events on `reply`. Errors before the first byte (unknown run, too many
 * streams) are thrown for the error handler; after that the connection is ours (hijacked):
 * written as the socket drains, so a slow client holds back its own stream and nothing else.
 */
export async function serveRunEvents(
  ctx: AppContext,
  streams: SseStreamRegistry,
  reply: FastifyReply,
  runId: string,
  afterSeq: number,
): Promise<void> {
  const res = reply.raw;
  const release = streams.acquire(runId);
  const controller = new AbortController();
  let stopHeartbeat = () => {};
  const onClose = () => {
    controller.abort();
    stopHeartbeat();
    release();
  };
  res.once('close', onClose);
  try {
    const stream = await watchRunEvents(ctx, { runId, afterSeq }, controller.signal);
    if (stream.exhausted || controller.signal.aborted) {
      // Never started, so it holds nothing; returning it keeps that true.
      await stream.events.return();
      if (!controller.signal.aborted) reply.code(204).header('cache-control', 'no-cache').send();
      return;
    }
    reply.hijack();
    res.writeHead(200, {
      // The headers hooks set so far (security headers, request id) go out too.
      ...definedHeaders(reply.getHeaders()),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${SSE_RETRY_MS}\n\n`);
    // Only when the socket keeps up: a backed-up stream already has bytes on their way.
    stopHeartbeat = streams.startTimer(() => {
      if (!res.writableNeedDrain && !res.writableEnded) res.write(': ping\n\n');
    }, ctx.config.sseHeartbeatMs);

    const corker = new WriteCorker(res);
    for await (const event of stream.events) {
      if (controller.signal.aborted) break;
      corker.cork();
      if (!res.write(formatMessage(event))) {
        streams.countDrainWait();
        await drained(res);
      }
    }
    if (!controller.signal.aborted) res.end();
  } catch (error) {
    // Failed after the stream started: all we can do is end it; the client resumes from its last id.
    if (reply.sent || res.headersSent) {
      ctx.log.warn({ err: error, runId }, 'SSE stream failed mid-way');
      res.destroy();
      return;
    }
    throw error;
  } finally {
    // However it ended (done, client gone, failure): nothing of this stream may outlive it.
    res.off('close', onClose);
    onClose();
  }
}

/**
 * One SSE message: the stored event is already in the pinned wire format. Serialized once per
 * event object: live events reach every stream of a run as the same objects (the run's hub),
 * so a hundred streams write one string.
 */
export const formatMessage: (event: RunEvent) => string = memoPerEvent(
  // JSON.stringify escapes line breaks inside strings, so `data` is always one line.
  (event) => `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`,
);
