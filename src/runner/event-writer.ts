import type { Kysely } from 'kysely';
import type { Database, RunRowUpdate } from '../db/database.js';
import { appendRunEvents } from '../db/run-events.js';
import type { EventDraft } from '../model/run-event.js';
import type { EventBus } from '../pubsub/event-bus.js';
import type { Logger } from '../logger.js';
import type { RunnerMetrics } from '../observability/metrics.js';

/** Attempts per batch (500 ms apart) before a database outage costs events. */
const MAX_ATTEMPTS = 20;

export interface EventWriterOptions {
  /** How long an event may wait so that it is stored together with the next ones. */
  flushMs: number;
  /** Above this many unsaved events, `push` asks the producer to pause. @default 5000 */
  highWaterMark?: number;
}

/**
 * The single writer of one running run's events. Events are collected for `flushMs`, then
 * stored in one transaction (sequence numbers, rows, the run's progress snapshot and result)
 * and published only after the commit. Flushes never overlap, so `seq` follows arrival order.
 */
export class RunEventWriter {
  private pending: EventDraft[] = [];
  /** `performance.now()` when each pending event's line was read (for the delivery-time metric). */
  private pendingSince: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private drainWaiters: Array<() => void> = [];
  private readonly highWaterMark: number;

  constructor(
    private readonly deps: { db: Kysely<Database>; bus: EventBus; log: Logger; metrics?: RunnerMetrics | undefined },
    private readonly runId: string,
    private readonly options: EventWriterOptions,
  ) {
    this.highWaterMark = options.highWaterMark ?? 5000;
  }

  private closed = false;
  /** Consecutive failed attempts to store a batch. */
  private failures = 0;

  /** Queues an event; false means "too much is waiting: pause until `drained()`". */
  push(event: EventDraft, receivedAt = performance.now()): boolean {
    if (this.closed) return true;
    this.pending.push(event);
    this.pendingSince.push(receivedAt);
    this.armTimer();
    return this.pending.length < this.highWaterMark;
  }

  /**
   * One batch per `flushMs` while output keeps coming: the cost of storing is per transaction,
   * not per event, so batching on the timer (not as fast as the database answers) keeps the
   * server's CPU, which the strategies share, low.
   */
  private armTimer(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.writePending(false));
    }, this.options.flushMs);
  }

  /** Resolves once the backlog is below the high-water mark. */
  drained(): Promise<void> {
    if (this.pending.length < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Stores what is pending and accepts nothing more (the run's terminal status comes next). */
  close(): Promise<void> {
    this.closed = true;
    for (const wake of this.drainWaiters.splice(0)) wake();
    return this.flush();
  }

  /** Stores (then publishes) everything pushed so far. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.writePending(true));
    return this.flushing;
  }

  /** Writes one batch, or everything with `all` (or while the backlog is above the mark). */
  private async writePending(all: boolean): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      const since = this.pendingSince;
      this.pending = [];
      this.pendingSince = [];
      try {
        const started = performance.now();
        const events = await this.deps.db
          .transaction()
          .execute((trx) => appendRunEvents(trx, this.runId, batch, snapshotOf(batch)));
        const commitSeconds = (performance.now() - started) / 1000;
        this.deps.bus.publish('runEvents', this.runId, events);
        this.deps.metrics?.eventBatchStored({ events, commitSeconds, receivedAt: since });
        this.failures = 0;
      } catch (error) {
        this.failures += 1;
        if (this.failures > MAX_ATTEMPTS) {
          // The database has been gone for a while: give up on this batch rather than hold
          // the run (and a shutdown) hostage; the run's final status records the failure.
          this.deps.log.error({ err: error, runId: this.runId, events: batch.length }, 'storing run events failed; events dropped');
          this.failures = 0;
        } else {
          // Keep the events and try again shortly: they are the run's history.
          this.deps.log.warn({ err: error, runId: this.runId, events: batch.length }, 'storing run events failed; retrying');
          this.pending = batch.concat(this.pending);
          this.pendingSince = since.concat(this.pendingSince);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      if (this.pending.length < this.highWaterMark) {
        for (const wake of this.drainWaiters.splice(0)) wake();
        if (!all) break;
      }
    }
    if (this.pending.length > 0 && !this.closed) this.armTimer();
  }
}

/** The run's latest progress and its result, from a batch of events. */
function snapshotOf(batch: readonly EventDraft[]): RunRowUpdate {
  const patch: RunRowUpdate = {};
  for (const event of batch) {
    if (event.event_type === 'progress') {
      if (typeof event.progress_percent === 'number') patch.progress_percent = event.progress_percent;
      if (typeof event.stage === 'string') patch.stage = event.stage;
      if (typeof event.message === 'string') patch.message = event.message;
    } else if (event.event_type === 'result') {
      patch.result = JSON.stringify(event.data ?? null);
    }
  }
  return patch;
}
