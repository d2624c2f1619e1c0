import { type Kysely, type Transaction, sql } from 'kysely';
import type { RunStatus } from '../model/run-status.js';
import type { Database, RunRow, RunRowUpdate } from './database.js';

/** The `runs` table: one function per operation, the database handle passed in. */

type Db = Kysely<Database> | Transaction<Database>;

export interface RunErrorRecord {
  readonly code: string;
  readonly message: string;
  /** Last lines the process wrote on stderr, oldest first. */
  readonly stderrTail: readonly string[];
}

/** A run as the rest of the service sees it: JSON-safe (ISO timestamps), so it can cross pub/sub. */
export interface RunRecord {
  readonly id: string;
  readonly number: number;
  readonly strategy: string;
  readonly parameters: Record<string, unknown>;
  readonly status: RunStatus;
  readonly progressPercent: number | null;
  readonly stage: string | null;
  readonly message: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly exitCode: number | null;
  readonly error: RunErrorRecord | null;
  readonly result: unknown;
  readonly timeoutSeconds: number | null;
  readonly pid: number | null;
  readonly owner: string | null;
  readonly waitReason: string | null;
  readonly lastSeq: number;
  /** What the run executes: fixed when it is queued (null for runs queued before that was kept). */
  readonly launch: RunLaunch | null;
  /** Name of the token that started it (null when access control is off). */
  readonly startedBy: string | null;
  /** Name of the token that cancelled it. */
  readonly cancelledBy: string | null;
  /** Output events dropped during a database outage longer than the runner may hold them. */
  readonly eventsLost: number;
}

export interface RunLaunch {
  readonly command: readonly string[];
  readonly workingDir: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a run id at all (anything else would make PostgreSQL raise). */
export function isRunId(id: string): boolean {
  return UUID.test(id);
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : value instanceof Date ? value.toISOString() : new Date(value).toISOString();

export function toRunRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    number: Number(row.number),
    strategy: row.strategy,
    parameters: (row.parameters ?? {}) as Record<string, unknown>,
    status: row.status,
    progressPercent: row.progress_percent,
    stage: row.stage,
    message: row.message,
    createdAt: iso(row.created_at)!,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    exitCode: row.exit_code,
    error: row.error_code
      ? {
          code: row.error_code,
          message: row.error_message ?? row.error_code,
          stderrTail: (row.stderr_tail as string[] | null) ?? [],
        }
      : null,
    result: row.result ?? null,
    timeoutSeconds: row.timeout_seconds,
    pid: row.pid,
    owner: row.owner,
    waitReason: row.wait_reason,
    lastSeq: row.last_seq,
    startedBy: row.started_by,
    cancelledBy: row.cancelled_by,
    launch:
      Array.isArray(row.command) && row.working_dir !== null
        ? { command: row.command as string[], workingDir: row.working_dir }
        : null,
    eventsLost: row.events_lost ?? 0,
  };
}

export async function insertRun(
  db: Db,
  run: { strategy: string; parameters: Record<string, unknown>; timeoutSeconds: number | null; launch: RunLaunch; startedBy: string | null },
): Promise<RunRecord> {
  const row = await db
    .insertInto('runs')
    .values({
      strategy: run.strategy,
      parameters: JSON.stringify(run.parameters),
      status: 'QUEUED',
      timeout_seconds: run.timeoutSeconds,
      command: JSON.stringify(run.launch.command),
      working_dir: run.launch.workingDir,
      started_by: run.startedBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRunRecord(row);
}

export async function findRun(db: Db, id: string): Promise<RunRecord | undefined> {
  if (!isRunId(id)) return undefined;
  const row = await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toRunRecord(row);
}

/** Locks the run's row for the rest of the transaction. */
export async function lockRun(trx: Transaction<Database>, id: string): Promise<RunRecord | undefined> {
  if (!isRunId(id)) return undefined;
  const row = await trx.selectFrom('runs').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row && toRunRecord(row);
}

export interface ListRunsFilter {
  statuses?: readonly RunStatus[] | undefined;
  strategy?: string | undefined;
  /** Only runs older than this run number (the cursor). */
  beforeNumber?: number | undefined;
  limit: number;
}

/** Newest first. */
export async function listRuns(db: Db, filter: ListRunsFilter): Promise<RunRecord[]> {
  let query = db.selectFrom('runs').selectAll().orderBy('number', 'desc').limit(filter.limit);
  if (filter.statuses?.length) query = query.where('status', 'in', filter.statuses);
  if (filter.strategy !== undefined) query = query.where('strategy', '=', filter.strategy);
  if (filter.beforeNumber !== undefined) query = query.where('number', '<', filter.beforeNumber);
  const rows = await query.execute();
  return rows.map(toRunRecord);
}

/**
 * Locks the oldest queued run of one of `strategies` that no other instance holds, or returns
 * undefined. Runs of other strategies are left for instances that have them.
 */
export async function lockNextQueuedRun(
  trx: Transaction<Database>,
  strategies: readonly string[],
): Promise<RunRecord | undefined> {
  if (strategies.length === 0) return undefined;
  const row = await trx
    .selectFrom('runs')
    .selectAll()
    .where('status', '=', 'QUEUED')
    .where('strategy', 'in', strategies)
    .orderBy('number')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  return row && toRunRecord(row);
}

export async function updateRun(db: Db, id: string, patch: RunRowUpdate): Promise<void> {
  await db.updateTable('runs').set(patch).where('id', '=', id).execute();
}

/** 1-based place in the queue of a queued run (1 = next to start). */
export async function queuePosition(db: Db, run: Pick<RunRecord, 'number'>): Promise<number> {
  const { count } = await db
    .selectFrom('runs')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('status', '=', 'QUEUED')
    .where('number', '<=', run.number)
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** Records why queued runs are waiting (null: they are not held back by the machine). */
export async function setQueuedWaitReason(db: Db, reason: string | null): Promise<void> {
  await db
    .updateTable('runs')
    .set({ wait_reason: reason })
    .where('status', '=', 'QUEUED')
    .where((eb) => (reason === null ? eb('wait_reason', 'is not', null) : eb('wait_reason', 'is distinct from', reason)))
    .execute();
}

/**
 * Runs some instance was executing (RUNNING or CANCELLING), each with whether its owner's
 * heartbeat is older than `staleSeconds`, judged by the database's clock (the one that wrote it).
 */
export async function listActiveRuns(
  db: Db,
  staleMs: number,
): Promise<Array<{ run: RunRecord; heartbeatStale: boolean }>> {
  const rows = await db
    .selectFrom('runs')
    .selectAll()
    .select(
      sql<boolean>`coalesce(heartbeat_at, started_at, created_at) < now() - make_interval(secs => ${staleMs / 1000})`.as(
        'heartbeat_stale',
      ),
    )
    .where('status', 'in', ['RUNNING', 'CANCELLING'])
    .orderBy('number')
    .execute();
  return rows.map(({ heartbeat_stale, ...row }) => ({ run: toRunRecord(row), heartbeatStale: heartbeat_stale }));
}

/** Which of `ids` are in `status`. */
export async function listRunIdsWithStatus(db: Db, ids: readonly string[], status: RunStatus): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('runs').select('id').where('id', 'in', ids).where('status', '=', status).execute();
  return rows.map((row) => row.id);
}

/**
 * Marks every run `owner` still holds (RUNNING or CANCELLING) as alive, by the database's clock,
 * so no other instance takes them over; returns them. A run missing from the answer is no
 * longer ours (another instance took it over while we were cut off).
 */
export async function touchOwnedRuns(db: Db, owner: string): Promise<Array<{ id: string; status: RunStatus }>> {
  return db
    .updateTable('runs')
    .set({ heartbeat_at: sql`now()` })
    .where('owner', '=', owner)
    .where('status', 'in', ['RUNNING', 'CANCELLING'])
    .returning(['id', 'status'])
    .execute();
}

/**
 * Serialises claims across every instance until the transaction ends, so that counting the
 * running runs and claiming one more cannot interleave with another instance doing the same.
 */
export async function lockClaims(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('strategy-runner:claim'))`.execute(trx);
}

/** Runs executing anywhere (RUNNING or CANCELLING: a cancelling run's process still holds its slot), per strategy. */
export async function countActiveRunsByStrategy(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('runs')
    .select(['strategy', (eb) => eb.fn.countAll<number>().as('count')])
    .where('status', 'in', ['RUNNING', 'CANCELLING'])
    .groupBy('strategy')
    .execute();
  return new Map(rows.map((row) => [row.strategy, Number(row.count)]));
}

/** Queued runs; callers hold the queue lock (`lockQueue`) when they compare it with a limit. */
export async function countQueuedRuns(db: Db): Promise<number> {
  const row = await db.selectFrom('runs').select((eb) => eb.fn.countAll<string>().as('count')).where('status', '=', 'QUEUED').executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Serialises submissions for the rest of the transaction (every instance shares the lock). */
export async function lockQueue(db: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('strategy-runner:queue'))`.execute(db);
}
