import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, RunRowUpdate } from '../db/database.js';
import { appendRunEvents } from '../db/run-events.js';
import type { StatusDraft, StatusEvent } from '../model/run-event.js';
import { isTerminal, toWireStatus, type RunStatus } from '../model/run-status.js';
import { lockRun, type RunRecord, toRunRecord } from '../db/runs.js';
import type { RunnerMetrics } from '../observability/metrics.js';
import type { EventBus } from '../pubsub/event-bus.js';

/**
 * The run lifecycle, and the only place a run's status changes.
 *
 *   QUEUED     → RUNNING     a scheduler claimed it
 *   QUEUED     → CANCELLED   cancelled before it started
 *   RUNNING    → COMPLETED   the script exited 0
 *   RUNNING    → FAILED      EXIT_CODE, TIMEOUT, SPAWN_FAILED, INTERRUPTED (server died/stopped), RUNNER_ERROR
 *   RUNNING    → CANCELLING  cancel requested; the process group is being stopped
 *   CANCELLING → CANCELLED   the process group is gone
 *   CANCELLING → FAILED      INTERRUPTED (the server died while cancelling) or TIMEOUT (it fired first)
 *
 * Every transition is persisted (row update + `status` event, one transaction) and only then
 * published, so a client never sees a state the database does not hold.
 */

const ALLOWED: Record<RunStatus, readonly RunStatus[]> = {
  QUEUED: ['RUNNING', 'CANCELLED'],
  RUNNING: ['COMPLETED', 'FAILED', 'CANCELLING'],
  CANCELLING: ['CANCELLED', 'FAILED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return ALLOWED[from].includes(to);
}

export interface TransitionDetails {
  /** Shown on the run and in the status event. */
  message?: string;
  error?: { code: string; message: string; stderrTail?: readonly string[] };
  exitCode?: number | null;
  /** Output events lost to a database outage; recorded on the run and in the status event when > 0. */
  eventsLost?: number;
  /** Other columns to set with the status (owner, pid, started_at, …). */
  patch?: RunRowUpdate;
}

export interface Transition {
  readonly run: RunRecord;
  readonly event: StatusEvent;
}

/**
 * Moves a locked run to `to` inside `trx`. Returns undefined (and changes nothing) when the
 * run does not exist or its current status does not allow the move.
 */
export async function applyTransition(
  trx: Transaction<Database>,
  runId: string,
  to: RunStatus,
  details: TransitionDetails = {},
): Promise<Transition | undefined> {
  const current = await lockRun(trx, runId);
  if (!current || !canTransition(current.status, to)) return undefined;
  const now = new Date();
  const terminal = isTerminal(to);
  const patch: RunRowUpdate = {
    ...details.patch,
    status: to,
    wait_reason: null,
    ...(details.message !== undefined ? { message: details.message } : {}),
    ...(details.exitCode !== undefined ? { exit_code: details.exitCode } : {}),
    ...(details.error
      ? {
          error_code: details.error.code,
          error_message: details.error.message,
          stderr_tail: JSON.stringify(details.error.stderrTail ?? []),
        }
      : {}),
    ...(terminal ? { finished_at: now, heartbeat_at: null } : {}),
    ...(to === 'COMPLETED' ? { progress_percent: 100 } : {}),
    ...(details.eventsLost ? { events_lost: details.eventsLost } : {}),
  };
  const row = await trx
    .updateTable('runs')
    // Times that other instances compare come from the database's clock, not ours.
    .set({ ...patch, ...(to === 'RUNNING' ? { started_at: sql`now()`, heartbeat_at: sql`now()` } : {}) })
    .where('id', '=', runId)
    .returningAll()
    .executeTakeFirstOrThrow();
  const [event] = await appendRunEvents<StatusDraft>(trx, runId, [
    {
      event_type: 'status',
      timestamp: now.toISOString(),
      status: toWireStatus(to),
      ...(details.message !== undefined ? { message: details.message } : {}),
      ...(details.exitCode !== undefined && details.exitCode !== null ? { exit_code: details.exitCode } : {}),
      ...(details.error ? { error: { code: details.error.code, message: details.error.message } } : {}),
      ...(details.eventsLost ? { events_lost: details.eventsLost } : {}),
    },
  ]);
  // The row as updated, with the seq its status event just took.
  if (!event) throw new Error('appendRunEvents stored no status event');
  return { run: { ...toRunRecord(row), lastSeq: event.seq }, event };
}

/** Tells every listener about a committed transition (and counts it, when given metrics). */
export function publishTransition(bus: EventBus, transition: Transition, metrics?: RunnerMetrics): void {
  metrics?.runTransitioned(transition.run);
  bus.publish('runEvents', transition.run.id, [transition.event]);
  bus.publish('runUpdated', '', transition.run);
}

/** `applyTransition` in its own transaction, published after commit. */
export async function transitionRun(
  deps: { db: Kysely<Database>; bus: EventBus; metrics?: RunnerMetrics | undefined },
  runId: string,
  to: RunStatus,
  details: TransitionDetails = {},
): Promise<Transition | undefined> {
  const transition = await deps.db.transaction().execute((trx) => applyTransition(trx, runId, to, details));
  if (transition) publishTransition(deps.bus, transition, deps.metrics);
  return transition;
}
