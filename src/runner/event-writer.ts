import type { Kysely } from 'kysely';
import type { Database, RunRowUpdate } from '../db/database.js';
import { appendOwnedRunEvents } from '../db/run-events.js';
import type { EventDraft, LogDraft } from '../model/run-event.js';
import type { EventBus } from '../pubsub/event-bus.js';
import type { Logger } from '../logger.js';
import type { RunnerMetrics } from '../observability/metrics.js';

/** Pause between attempts to store a batch while the database does not answer. */
const RETRY_MS = 250;

export interface EventWriterOptions {
  /**
   * At most one batch per `flushMs` while output keeps coming; an event that follows a quiet
   * spell is stored at once.
   */
  flushMs: number;
  /** The instance executing the run: only while it owns the run may it write (fencing). */
  owner: string;
  /** Unstored output held for the run; above it `push` asks the producer to pause. */
  bufferBytes: number;
  /** A database outage longer than this costs events (counted) instead of holding the run. */
  outageLimitMs: number;
}

/**
 * The single writer of one running run's events. Events are stored in batches, at most one
 * per `flushMs` (the first after a quiet spell at once, with whatever else the same read of the
 * pipe brought), each in one transaction (sequence numbers, rows, the run's progress snapshot and result)
 * and published only after the commit. Flushes never overlap, so `seq` follows arrival order.
 *
 * While the database is away nothing is dropped: the batch is retried, and once `bufferBytes`
 * are waiting the producer pauses (the child's pipe fills and the script blocks on its next
 * write). Only an outage longer than `outageLimitMs` costs events; they are counted, the run's
 * row keeps the count (`events_lost`) and a `log` event says so when storing resumes.
 */
export class RunEventWriter {
  private pending: EventDraft[] = [];
  /** `performance.now()` when each pending event's line was read (for the delivery-time metric). */
  private pendingSince: number[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private drainWaiters: Array<() => void> = [];
  private closed = false;
  /** Since when (ms) storing has been failing; undefined while it works. */
  private outageSince: number | undefined;
  /** Events dropped in total, and those not yet announced by a `log` event. */
  private lost = 0;
  private unannounced = 0;
  private fencedFlag = false;
  /** When (ms) the last batch was sent to the database. */
  private lastBatchAt = 0;
  /** Output events of this run known to be stored (the row's `output_count`). */
  private stored = 0;
  /** A failed batch, retried as is. */
  private retry: Batch | undefined;
  /** The last batch whose commit failed: it may have been stored all the same. */
  private inDoubt: { before: number; size: number; notice: number; dropped: boolean } | undefined;

  constructor(
    private readonly deps: { db: Kysely<Database>; bus: EventBus; log: Logger; metrics?: RunnerMetrics | undefined },
    private readonly runId: string,
    private readonly options: EventWriterOptions,
    /** Called once when the run turns out to belong to someone else (it was taken over). */
    private readonly onFenced: () => void = () => {},
  ) {}

  /** Output events this run has lost to a database outage so far. */
  get eventsLost(): number {
    return this.lost;
  }

  /** True once another instance took the run over: nothing more is stored. */
  get fenced(): boolean {
    return this.fencedFlag;
  }

  /** Queues an event of about `bytes`; false means "too much is waiting: pause until `drained()`". */
  push(event: EventDraft, bytes: number, receivedAt = performance.now()): boolean {
    if (this.closed || this.fencedFlag) return true;
    if (this.shedding() && this.pendingBytes >= this.options.bufferBytes) {
      // Past the outage limit nothing holds the run any more: beyond the buffer, count and drop.
      this.drop(1);
      return true;
    }
    this.pending.push(event);
    this.pendingSince.push(receivedAt);
    this.pendingBytes += bytes;
    this.armTimer();
    return this.shedding() || this.pendingBytes < this.options.bufferBytes;
  }

  /**
   * At most one batch per `flushMs` while output keeps coming: the cost of storing is per
   * transaction, not per event, so a flood is stored in few large batches and the server's CPU,
   * which the strategies share, stays low. But a progress line after a pause is not held back
   * for a timer: that wait was most of what a client saw as latency.
   */
  private armTimer(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastBatchAt + this.options.flushMs - Date.now());
    const write = () => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.writePending(false));
    };
    // setImmediate: lines of the same chunk of output, pushed in this tick, go in the same batch.
    this.timer = wait === 0 ? (setImmediate(write) as unknown as NodeJS.Timeout) : setTimeout(write, wait);
  }

  /** Resolves once the backlog is below half the buffer (or the writer no longer holds events). */
  drained(): Promise<void> {
    if (this.canTakeMore()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private canTakeMore(): boolean {
    return this.closed || this.fencedFlag || this.shedding() || this.pendingBytes < this.options.bufferBytes / 2;
  }

  private wakeIfDrained(): void {
    if (this.canTakeMore()) for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /** Stores what is pending and accepts nothing more (the run's terminal status comes next). */
  close(): Promise<void> {
    this.closed = true;
    this.wakeIfDrained();
    return this.flush();
  }

  /** Stores (then publishes) everything pushed so far. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    clearImmediate(this.timer as unknown as NodeJS.Immediate);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.writePending(true));
    return this.flushing;
  }

  private shedding(): boolean {
    return this.outageSince !== undefined && Date.now() - this.outageSince >= this.options.outageLimitMs;
  }

  private drop(count: number): void {
    if (this.unannounced === 0) {
      this.deps.log.error(
        { runId: this.runId, outageLimitMs: this.options.outageLimitMs },
        'database unreachable for longer than EVENT_OUTAGE_LIMIT_MS; dropping (and counting) run events',
      );
    }
    this.lost += count;
    this.unannounced += count;
  }

  /** Writes one batch; with `all`, keeps going until nothing is pending (or the run is lost to us). */
  private async writePending(all: boolean): Promise<void> {
    while ((this.retry || this.pending.length > 0) && !this.fencedFlag) {
      // A failed batch is retried exactly as it was, so its outcome can be told (see inDoubt).
      const batch = this.retry ?? this.takeBatch();
      this.retry = undefined;
      this.lastBatchAt = Date.now();
      try {
        const started = performance.now();
        const result = await this.deps.db
          .transaction()
          .execute((trx) =>
            appendOwnedRunEvents(trx, this.runId, this.options.owner, this.stored, batch.drafts, {
              ...snapshotOf(batch.drafts),
              ...(this.lost > 0 ? { events_lost: this.lost } : {}),
            }),
          );
        if (result.outcome === 'fenced') {
          this.fence();
          break;
        }
        if (result.outcome === 'count-mismatch') {
          this.settleDoubt(result.outputCount, batch);
          continue;
        }
        this.stored += batch.drafts.length;
        this.pendingBytes -= batch.bytes;
        this.inDoubt = undefined;
        this.recovered();
        this.deps.bus.publish('runEvents', this.runId, result.events);
        this.deps.metrics?.eventBatchStored({
          events: result.events,
          commitSeconds: (performance.now() - started) / 1000,
          receivedAt: batch.receivedAt,
        });
      } catch (error) {
        if (this.outageSince === undefined) {
          this.outageSince = Date.now();
          this.deps.log.warn({ err: error, runId: this.runId, events: batch.drafts.length }, 'storing run events failed; holding them and retrying');
        }
        // The commit may have happened with only its acknowledgement lost.
        const noticeRow = batch.notice > 0 ? 1 : 0;
        this.inDoubt = { before: this.stored, size: batch.drafts.length, notice: batch.notice, dropped: false };
        if (this.shedding()) {
          this.inDoubt.dropped = true;
          this.drop(batch.drafts.length - noticeRow);
          if (batch.notice) this.unannounced += batch.notice;
          this.pendingBytes -= batch.bytes;
        } else {
          // The run's history: keep it, in order, ahead of anything that arrived meanwhile.
          this.retry = batch;
        }
        this.wakeIfDrained();
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        // Past the limit, a closing writer stops trying: what is left is counted as lost.
        if (this.closed && this.shedding()) {
          this.drop(this.pending.length);
          this.pending = [];
          this.pendingSince = [];
          this.pendingBytes = 0;
          break;
        }
        continue;
      }
      this.wakeIfDrained();
      if (!all) break;
    }
    this.wakeIfDrained();
    if ((this.retry || this.pending.length > 0) && !this.closed && !this.fencedFlag) this.armTimer();
  }

  /** Everything pending as one batch, behind a notice of what was lost before it. */
  private takeBatch(): Batch {
    const events = this.pending;
    const receivedAt = this.pendingSince;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingSince = [];
    const notice = this.unannounced;
    this.unannounced = 0;
    // pendingBytes keeps counting the batch until it is stored or dropped (backpressure).
    return {
      drafts: notice > 0 ? [this.lossNotice(notice, events[0]!.timestamp), ...events] : events,
      bytes,
      notice,
      receivedAt,
    };
  }

  /**
   * The run's stored output count is not ours: the last batch whose commit went unacknowledged
   * was stored after all. Retried: it is done. Dropped: it was not lost after all.
   */
  private settleDoubt(outputCount: number, batch: Batch): void {
    const doubt = this.inDoubt;
    this.inDoubt = undefined;
    if (!doubt || outputCount !== doubt.before + doubt.size) {
      // Cannot happen with one writer per run; adopt the stored count rather than loop forever.
      this.deps.log.error({ runId: this.runId, outputCount, expected: this.stored }, 'unexpected stored output count');
      // More stored than we knew: batches counted as lost were stored after all.
      this.lost = Math.max(0, this.lost - Math.max(0, outputCount - this.stored));
      this.stored = outputCount;
      this.retry = batch;
      return;
    }
    this.stored = outputCount;
    if (doubt.dropped) {
      // Counted as lost, but stored after all (its notice too, if it led one).
      const events = doubt.size - (doubt.notice > 0 ? 1 : 0);
      this.lost = Math.max(0, this.lost - events);
      this.unannounced = Math.max(0, this.unannounced - events - doubt.notice);
      this.retry = batch; // the current batch has not been written yet
    } else {
      // The same batch: stored; readers find it in storage (its live message is not sent).
      this.pendingBytes -= batch.bytes;
      this.recovered();
    }
  }

  private recovered(): void {
    if (this.outageSince !== undefined) {
      this.deps.log.info({ runId: this.runId, outageMs: Date.now() - this.outageSince }, 'storing run events again');
    }
    this.outageSince = undefined;
  }

  private fence(): void {
    this.fencedFlag = true;
    this.pending = [];
    this.pendingSince = [];
    this.pendingBytes = 0;
    this.deps.log.warn({ runId: this.runId }, 'run taken over by another instance; storing nothing more');
    this.wakeIfDrained();
    this.onFenced();
  }

  private lossNotice(count: number, timestamp: string): LogDraft {
    return {
      event_type: 'log',
      timestamp,
      level: 'error',
      message:
        `${count} output event(s) were lost: the database was unreachable for longer than ` +
        `${Math.round(this.options.outageLimitMs / 1000)} s (${this.lost} lost in this run so far)`,
    };
  }
}

interface Batch {
  readonly drafts: EventDraft[];
  /** Bytes of the events (as counted by `push`). */
  readonly bytes: number;
  /** Lost events the batch's leading notice announces (0: no notice). */
  readonly notice: number;
  /** When each event's line was read (`performance.now()`), for the delivery-time metric. */
  readonly receivedAt: readonly number[];
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
