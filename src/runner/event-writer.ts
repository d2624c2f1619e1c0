import type { Kysely } from 'kysely';
import type { Database, RunRowUpdate } from '../db/database.js';
import { appendOwnedRunEvents, appendOwnedRunEventsAfter, type OwnedAppend } from '../db/run-events.js';
import type { EventDraft, LogDraft, RunEvent } from '../model/run-event.js';
import type { EventBus } from '../pubsub/event-bus.js';
import type { Logger } from '../logger.js';
import type { RunnerMetrics } from '../observability/metrics.js';

/** Pause between attempts to store a batch while the database does not answer. */
const RETRY_MS = 250;

export interface EventWriterOptions {
  /**
   * Least time between the starts of two batches. 0: pure group commit (a batch starts as soon
   * as the one before it has committed). Larger means fewer, bigger transactions for a chatty
   * run, at the cost of that much latency; the first event after a quiet spell never waits.
   */
  flushMs: number;
  /** The instance executing the run: only while it owns the run may it write (fencing). */
  owner: string;
  /** Unstored output held for the run; above it `push` asks the producer to pause. */
  bufferBytes: number;
  /** A database outage longer than this costs events (counted) instead of holding the run. */
  outageLimitMs: number;
  /**
   * Most events in one batch (one transaction); what is left goes in the next. The cost per
   * event stops falling at a few hundred per batch, and a batch larger than a live client's
   * buffer (1000 events, see run-event-stream.ts) would send every live client back to storage.
   * @default 1000
   */
  maxBatchEvents?: number;
  /**
   * Most bytes (as counted by `push`) in one batch, so that a flood of long lines does not make
   * one huge statement; a single event larger than this still goes, alone.
   * @default 1 MiB
   */
  maxBatchBytes?: number;
}

export const DEFAULT_MAX_BATCH_EVENTS = 1000;
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;

/**
 * The writer's modes. Transitions (only through `setMode`):
 *
 *   idle      → scheduled  `push` queued an event (it starts on the next turn of the event loop,
 *                          so the other lines read with it join its batch)
 *   idle      → writing    `flush`/`close` with something to store
 *   scheduled → writing    that turn came, or `flush`/`close` (no waiting)
 *   writing   → writing    a batch is done and more is waiting: the next batch starts at once
 *                          (after `flushMs` since the last one started, when that is set),
 *                          holding everything that arrived meanwhile
 *   writing   → idle       nothing is waiting any more (or the run is fenced, or a closing
 *                          writer gave up on an outage past its limit)
 */
type Mode = 'idle' | 'scheduled' | 'writing';

/**
 * The single writer of one running run's events, by group commit: an event that arrives while
 * nothing is being written is stored at once (with whatever else the same read of the pipe
 * brought); events that arrive while a batch is being written go together in the next one. So a
 * quiet run pays one commit of latency, and under a flood batches grow by themselves (bounded by
 * `maxBatchEvents` and `maxBatchBytes`). Each batch is atomic (sequence numbers, rows, the
 * run's progress snapshot and result) — one statement while the writer knows the run's last seq,
 * else one transaction — and is published only after its commit. Batches never overlap, so
 * `seq` follows arrival order.
 *
 * While the database is away nothing is dropped: the batch is retried, and once `bufferBytes`
 * are waiting the producer pauses (the child's pipe fills and the script blocks on its next
 * write). Only an outage longer than `outageLimitMs` costs events; they are counted, the run's
 * row keeps the count (`events_lost`) and a `log` event says so when storing resumes.
 */
export class RunEventWriter {
  private mode: Mode = 'idle';
  private pending: EventDraft[] = [];
  /** `performance.now()` when each pending event's line was read (for the delivery-time metric). */
  private pendingSince: number[] = [];
  /** Bytes of each pending event, as given to `push`. */
  private pendingSizes: number[] = [];
  /** Bytes of the pending events and of the batch being written (backpressure). */
  private pendingBytes = 0;
  /** The start of a scheduled write (mode `scheduled`). */
  private immediate: NodeJS.Immediate | undefined;
  /** The write loop (mode `writing`); resolved when idle. */
  private loop: Promise<void> = Promise.resolve();
  /** Set by `flush`: write everything without waiting for `flushMs` until the loop ends. */
  private urgent = false;
  /** Ends a wait for `flushMs` early (a flush). */
  private wake: (() => void) | undefined;
  private drainWaiters: Array<() => void> = [];
  private closed = false;
  /** Since when (ms) storing has been failing; undefined while it works. */
  private outageSince: number | undefined;
  /** Events dropped in total, and those not yet announced by a `log` event. */
  private lost = 0;
  private unannounced = 0;
  private fencedFlag = false;
  /** When (ms, monotonic) the last batch was sent to the database. */
  private lastBatchAt = Number.NEGATIVE_INFINITY;
  /** Output events of this run known to be stored (the row's `output_count`). */
  private stored = 0;
  /** The run's `last_seq` after this writer's last batch; undefined until known, or once in doubt. */
  private lastSeq: number | undefined;
  /** A failed batch, retried as is. */
  private retry: Batch | undefined;
  /** The last batch whose commit failed: it may have been stored all the same. */
  private inDoubt: { before: number; size: number; notice: number; dropped: boolean } | undefined;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;

  constructor(
    private readonly deps: { db: Kysely<Database>; bus: EventBus; log: Logger; metrics?: RunnerMetrics | undefined },
    private readonly runId: string,
    private readonly options: EventWriterOptions,
    /** Called once when the run turns out to belong to someone else (it was taken over). */
    private readonly onFenced: () => void = () => {},
  ) {
    // At least 2: a batch that leads with a loss notice still carries an event.
    this.maxBatchEvents = Math.max(2, options.maxBatchEvents ?? DEFAULT_MAX_BATCH_EVENTS);
    this.maxBatchBytes = Math.max(1, options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES);
  }

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
    this.pendingSizes.push(bytes);
    this.pendingBytes += bytes;
    if (this.mode === 'idle') this.schedule();
    return this.shedding() || this.pendingBytes < this.options.bufferBytes;
  }

  private setMode(mode: Mode): void {
    this.mode = mode;
  }

  /**
   * idle → scheduled. setImmediate rather than now: the lines of the same chunk of output (and
   * of the other pipe, read in the same turn) are pushed in this turn and go in the same batch.
   */
  private schedule(): void {
    this.setMode('scheduled');
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.startWriting();
    });
  }

  /** idle or scheduled → writing (→ idle at once when there is nothing to write). */
  private startWriting(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.setMode('writing');
    this.loop = this.writeLoop();
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

  /** Stores (then publishes) everything pushed so far, without waiting for `flushMs`. */
  flush(): Promise<void> {
    this.urgent = true;
    this.wake?.();
    if (this.mode !== 'writing') this.startWriting();
    return this.loop;
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

  /** Mode `writing`: one batch after another until nothing is waiting (group commit). */
  private async writeLoop(): Promise<void> {
    while ((this.retry || this.pending.length > 0) && !this.fencedFlag) {
      if (!this.urgent) await this.spacing();
      // A failed batch is retried exactly as it was, so its outcome can be told (see inDoubt).
      const batch = this.retry ?? this.takeBatch();
      this.retry = undefined;
      this.lastBatchAt = performance.now();
      try {
        const started = performance.now();
        const result = await this.append(batch.drafts, {
          ...snapshotOf(batch.drafts),
          ...(this.lost > 0 ? { events_lost: this.lost } : {}),
        });
        this.lastSeq = result.outcome === 'stored' ? result.events.at(-1)?.seq : undefined;
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
        this.lastSeq = undefined;
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
          this.clearPending();
          break;
        }
        continue;
      }
      this.wakeIfDrained();
    }
    // No await between the last look at `pending` and here, so nothing pushed meanwhile is
    // stranded: a push from now on finds the writer idle and schedules a write of its own.
    this.urgent = false;
    this.setMode('idle');
    this.wakeIfDrained();
  }

  /**
   * One batch into storage: in one statement when this writer knows the run's last seq (its
   * own last batch, and nobody wrote since), else in a transaction that finds out how things
   * stand (first batch, a cancel's status event in between, a retry, a takeover).
   */
  private async append(drafts: EventDraft[], patch: RunRowUpdate): Promise<OwnedAppend<RunEvent>> {
    const { db } = this.deps;
    const { owner } = this.options;
    if (this.lastSeq !== undefined) {
      const events = await appendOwnedRunEventsAfter(db, this.runId, owner, this.stored, this.lastSeq, drafts, patch);
      if (events) return { outcome: 'stored', events };
    }
    return db.transaction().execute((trx) => appendOwnedRunEvents(trx, this.runId, owner, this.stored, drafts, patch));
  }

  /** Waits until `flushMs` have passed since the last batch started (at once when it is 0). */
  private async spacing(): Promise<void> {
    const wait = this.lastBatchAt + this.options.flushMs - performance.now();
    if (!(wait > 0)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  private clearPending(): void {
    this.pending = [];
    this.pendingSince = [];
    this.pendingSizes = [];
    this.pendingBytes = 0;
  }

  /**
   * The oldest pending events, at most `maxBatchEvents` and `maxBatchBytes` of them (at least
   * one), behind a notice of what was lost before them.
   */
  private takeBatch(): Batch {
    const notice = this.unannounced;
    this.unannounced = 0;
    const sizes = this.pendingSizes;
    const limit = Math.min(sizes.length, this.maxBatchEvents - (notice > 0 ? 1 : 0));
    let count = 0;
    let bytes = 0;
    while (count < limit && (count === 0 || bytes + sizes[count]! <= this.maxBatchBytes)) bytes += sizes[count++]!;
    let events: EventDraft[];
    let receivedAt: number[];
    if (count === this.pending.length) {
      events = this.pending;
      receivedAt = this.pendingSince;
      this.pending = [];
      this.pendingSince = [];
      this.pendingSizes = [];
    } else {
      events = this.pending.splice(0, count);
      receivedAt = this.pendingSince.splice(0, count);
      this.pendingSizes.splice(0, count);
    }
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
    this.clearPending();
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
