import type { Kysely } from 'kysely';
import type { Database } from '../db/database.js';
import { deleteExpiredIdempotencyKeys, deleteFinishedRunsBatch } from '../db/retention.js';
import type { Logger } from '../logger.js';
import type { EdgeMetrics } from '../observability/metrics.js';

/** Sweeps run at start-up and this often while the server runs (CONTRACT §8: at least hourly). */
export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;

export interface RetentionOptions {
  /** Runs that finished longer ago than this are deleted; 0 keeps everything. @default 30 */
  days: number;
  /** Runs deleted per transaction. @default 500 */
  batchSize: number;
  /** Idempotency keys are kept this long (their window), then deleted. */
  idempotencyHours: number;
  /** @default RETENTION_INTERVAL_MS */
  intervalMs?: number;
}

export interface SweepResult {
  readonly runs: number;
  readonly events: number;
  readonly idempotencyKeys: number;
}

/**
 * Retention (`RETENTION_DAYS`): finished runs older than the limit are deleted with their
 * events, one bounded batch (one short transaction) at a time, so a long backlog never holds
 * locks for long. Several instances may sweep at once: each batch skips rows another instance
 * has locked, so none waits and nothing is counted twice. Queued and running runs are never
 * candidates. Each sweep that deletes something logs one line and adds to the counters.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<SweepResult> | undefined;
  private stopped = false;

  constructor(
    private readonly deps: { db: Kysely<Database>; log: Logger; metrics: Pick<EdgeMetrics, 'retentionDeleted'> },
    private readonly options: RetentionOptions,
  ) {}

  /** Sweeps now (in the background) and then every interval. Nothing at all with `days` 0. */
  start(): void {
    if (this.options.days === 0 || this.timer) return;
    const sweepQuietly = () => void this.sweep().catch((err) => this.deps.log.warn({ err }, 'retention sweep failed; retrying at the next one'));
    sweepQuietly();
    this.timer = setInterval(sweepQuietly, this.options.intervalMs ?? RETENTION_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops between two batches and waits for the one under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.current?.catch(() => undefined);
  }

  /** Resolves when no sweep is under way (tests). */
  async whenIdle(): Promise<void> {
    while (this.current) await this.current.catch(() => undefined);
  }

  /** One sweep to the end of the backlog; a call during a sweep joins it. */
  sweep(): Promise<SweepResult> {
    this.current ??= this.sweepAll().finally(() => (this.current = undefined));
    return this.current;
  }

  private async sweepAll(): Promise<SweepResult> {
    const { days, batchSize, idempotencyHours } = this.options;
    const { db, log, metrics } = this.deps;
    let runs = 0;
    let events = 0;
    let idempotencyKeys = 0;
    if (days === 0) return { runs, events, idempotencyKeys };
    const started = performance.now();
    while (!this.stopped) {
      const batch = await deleteFinishedRunsBatch(db, days, batchSize);
      runs += batch.runs;
      events += batch.events;
      metrics.retentionDeleted(batch);
      if (batch.runs < batchSize) break;
    }
    while (!this.stopped) {
      const deleted = await deleteExpiredIdempotencyKeys(db, idempotencyHours, batchSize);
      idempotencyKeys += deleted;
      if (deleted < batchSize) break;
    }
    const line = { runs, events, idempotencyKeys, retentionDays: days, ms: Math.round(performance.now() - started) };
    if (runs > 0 || idempotencyKeys > 0) log.info(line, `retention: deleted ${runs} finished run(s) older than ${days} day(s) and ${events} event(s)`);
    else log.debug(line, 'retention: nothing to delete');
    return { runs, events, idempotencyKeys };
  }
}
