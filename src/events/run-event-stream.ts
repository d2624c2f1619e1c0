import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { isConnectionError } from '../db/connect.js';
import type { Database } from '../db/database.js';
import { listRunEvents } from '../db/run-events.js';
import { findRun, type RunRecord } from '../db/runs.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import { isTerminalEvent, type RunEvent } from '../model/run-event.js';
import { isTerminal } from '../model/run-status.js';
import type { BusMessages, BusTopic, EventBus } from '../pubsub/event-bus.js';
import { abortable } from './abortable.js';
import { runEventHub } from './run-event-hub.js';

/**
 * A run's events for one client: every event with `seq > afterSeq`, oldest first, first from
 * storage and then live, with no gap and no duplicate, ending after the terminal status event.
 *
 * How: listen to live events first (buffering them), read storage page by page, then hand out
 * live events, dropping those already sent. The live events come through the run's hub
 * (run-event-hub.ts): one bus subscription per run however many clients watch it, and the
 * same event objects for all of them. A gap in the live sequence (a lost pub/sub message,
 * or a buffer overflow while the client was slow) sends us back to storage. Storage is read
 * page by page as the client consumes, so a slow client never makes the server hold a history.
 */

/** What the stream engine reads: storage and the live feed. */
export interface StreamDeps {
  readonly db: Kysely<Database>;
  readonly bus: EventBus;
  readonly config?: Pick<Config, 'busFallbackPollMs'>;
}

export interface RunEventStreamOptions {
  /** @default 500 */
  pageSize?: number;
  /** Live events buffered per client before it is sent back to storage. @default 1000 */
  liveBufferLimit?: number;
  /** Without live news for this long, storage is checked anyway. @default 5000 */
  pollMs?: number;
  /** While the live feed is down (Redis away), storage is checked this often. @default config.busFallbackPollMs, else 200 */
  fallbackPollMs?: number;
}

export interface RunEventStream {
  readonly run: RunRecord;
  /** Events after `afterSeq`; ends after the terminal status event or when `signal` aborts. */
  readonly events: AsyncGenerator<RunEvent, void, undefined>;
  /** True when the run has finished and nothing newer than `afterSeq` exists. */
  readonly exhausted: boolean;
}

/** @throws NotFoundError, BadUserInputError */
export async function openRunEventStream(
  ctx: StreamDeps,
  args: { runId: string; afterSeq?: number | null },
  signal?: AbortSignal,
  options: RunEventStreamOptions = {},
): Promise<RunEventStream> {
  const afterSeq = args.afterSeq ?? 0;
  if (!Number.isInteger(afterSeq) || afterSeq < 0) {
    throw new BadUserInputError('afterSeq must be a whole number, 0 or more', [{ field: 'afterSeq', message: 'must be >= 0' }]);
  }
  const run = await findRun(ctx.db, args.runId);
  if (!run) throw new NotFoundError(`No run with id "${args.runId}"`);
  const exhausted = isTerminal(run.status) && afterSeq >= run.lastSeq;
  const events = exhausted
    ? emptyStream()
    : abortable((inner) => streamEvents(ctx, run.id, afterSeq, inner, options), signal);
  return { run, exhausted, events };
}

async function* emptyStream(): AsyncGenerator<RunEvent, void, undefined> {}

async function* streamEvents(
  ctx: StreamDeps,
  runId: string,
  afterSeq: number,
  signal: AbortSignal,
  { pageSize = 500, liveBufferLimit = 1000, pollMs = 5000, fallbackPollMs }: RunEventStreamOptions,
): AsyncGenerator<RunEvent, void, undefined> {
  let live: RunEvent[] = [];
  let overflowed = false;
  const news = new Wakeup(signal);
  // Jittered per stream: clients that subscribed together must not all check storage at the same moment.
  const quietMs = pollMs * (0.75 + Math.random() / 2);
  const fallbackMs = fallbackPollMs ?? ctx.config?.busFallbackPollMs ?? 200;
  // Live messages may have been lost while the feed was down (either way): look at storage now.
  let feedChanged = false;
  const offConnection = ctx.bus.onConnectionChange(() => {
    feedChanged = true;
    news.wake();
  });
  const unsubscribe = runEventHub(ctx.bus).subscribe(runId, (events) => {
    if (live.length + events.length > liveBufferLimit) {
      live = [];
      overflowed = true;
    } else {
      live.push(...events);
    }
    news.wake();
  });
  try {
    let last = afterSeq;
    let fromStorage = true;
    while (!signal.aborted) {
      if (fromStorage) {
        const page = await untilAnswered(() => listRunEvents(ctx.db, runId, last, pageSize), signal);
        if (!page) return;
        for (const event of page) {
          yield event;
          last = event.seq;
          if (isTerminalEvent(event)) return;
        }
        if (page.length === pageSize) continue;
        fromStorage = false;
      }
      if (overflowed) {
        overflowed = false;
        fromStorage = true;
        continue;
      }
      while (live.length > 0 && !fromStorage) {
        const event = live.shift()!;
        if (event.seq <= last) {
          // The run ended at or before the client's afterSeq: nothing is left to send.
          if (isTerminalEvent(event)) return;
          continue;
        }
        if (event.seq !== last + 1) {
          fromStorage = true;
          break;
        }
        yield event;
        last = event.seq;
        if (isTerminalEvent(event)) return;
      }
      if (fromStorage || overflowed) continue;
      const woke = await news.wait(ctx.bus.connected() ? quietMs : fallbackMs);
      if (feedChanged) {
        feedChanged = false;
        fromStorage = true;
        continue;
      }
      if (woke === 'timeout') {
        // Quiet for a while: check storage in case a live message was lost, and whether the
        // run ended without anything left for this client (afterSeq beyond its last event).
        const run = await untilAnswered(() => findRunShared(ctx.db, runId), signal);
        if (signal.aborted) return;
        if (!run || (isTerminal(run.status) && run.lastSeq <= last)) return;
        // Only read the log when it has grown: a quiet run costs one shared row read per check.
        if (run.lastSeq > last) fromStorage = true;
      }
    }
  } finally {
    unsubscribe();
    offConnection();
    news.dispose();
  }
}

const runChecks = new WeakMap<object, Map<string, Promise<RunRecord | undefined>>>();

/**
 * `findRun` shared by every client of this instance that checks the same run at the same
 * moment: hundreds of watchers of one run cost one query, not hundreds queued on the pool
 * (a queue that showed up as hundreds of milliseconds of delivery latency).
 */
function findRunShared(db: Kysely<Database>, runId: string): Promise<RunRecord | undefined> {
  let checks = runChecks.get(db);
  if (!checks) runChecks.set(db, (checks = new Map()));
  let check = checks.get(runId);
  if (!check) {
    const pending = checks;
    check = findRun(db, runId).finally(() => pending.delete(runId));
    checks.set(runId, check);
  }
  return check;
}

/**
 * A storage read that outlives a database outage (and only that): the client stays connected (the faces keep
 * its connection alive) and gets what it missed once the database answers again.
 * Undefined once `signal` aborts.
 */
async function untilAnswered<T>(read: () => Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      return await read();
    } catch (error) {
      // Anything but an unreachable database ends the stream (with a coded error) as before.
      if (!isConnectionError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
    }
  }
  return undefined;
}

/** Every message of one bus topic until the consumer stops; a slow reader loses the oldest. */
export function busMessages<T extends BusTopic>(
  ctx: StreamDeps,
  topic: T,
  signal?: AbortSignal,
): AsyncGenerator<BusMessages[T], void, undefined> {
  return abortable((inner) => topicMessages(ctx, topic, inner), signal);
}

async function* topicMessages<T extends BusTopic>(
  ctx: StreamDeps,
  topic: T,
  signal: AbortSignal,
  bufferLimit = 1000,
): AsyncGenerator<BusMessages[T], void, undefined> {
  const buffer: BusMessages[T][] = [];
  const news = new Wakeup(signal);
  const unsubscribe = ctx.bus.subscribe(topic, '', (message) => {
    if (buffer.length >= bufferLimit) buffer.shift();
    buffer.push(message);
    news.wake();
  });
  try {
    while (!signal.aborted) {
      while (buffer.length > 0) yield buffer.shift()!;
      await news.wait(60_000);
    }
  } finally {
    unsubscribe();
    news.dispose();
  }
}

/**
 * A one-shot signal that can be awaited with a timeout and an abort signal, leaking nothing.
 * It waits once per batch on every stream of a run, so it holds one abort listener and one
 * timer for its whole life and re-arms the timer (`refresh`), instead of adding and removing a
 * listener and a timer per wait, a hundred streams at a time.
 */
class Wakeup {
  private resolve: ((how: 'woken' | 'timeout' | 'aborted') => void) | undefined;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private readonly onAbort = () => this.settle('aborted');
  private readonly onTimeout = () => this.settle('timeout');

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  wake(): void {
    if (this.resolve) this.settle('woken');
    else this.pending = true;
  }

  wait(timeoutMs: number): Promise<'woken' | 'timeout' | 'aborted'> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('woken');
    }
    if (this.signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => {
      this.resolve = resolve;
      if (this.timer && this.timerMs === timeoutMs) this.timer.refresh();
      else {
        clearTimeout(this.timer);
        this.timer = setTimeout(this.onTimeout, timeoutMs);
        this.timerMs = timeoutMs;
      }
    });
  }

  private settle(how: 'woken' | 'timeout' | 'aborted'): void {
    const resolve = this.resolve;
    this.resolve = undefined;
    // A timer left running after a wake fires into no wait (ignored), or the next wait re-arms it.
    resolve?.(how);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this.onAbort);
    this.settle('aborted');
  }
}
