import type { Kysely, Transaction } from 'kysely';
import { placeEvent, type EventDraft, type EventPlace, type RunEvent } from '../model/run-event.js';
import type { Database, RunRowUpdate } from './database.js';

/** The `run_events` table: the durable, ordered event log of every run. */

type Db = Kysely<Database> | Transaction<Database>;

/**
 * Gives `drafts` the run's next sequence numbers and stores them, inside `trx`.
 * The sequence counter lives on the run's row, so the row lock makes every writer
 * (the executing instance, a cancel from another instance, recovery) take turns.
 */
export async function appendRunEvents<T extends EventDraft>(
  trx: Transaction<Database>,
  runId: string,
  drafts: readonly T[],
  /** Other columns of the run to set in the same statement (its progress snapshot). */
  runPatch: RunRowUpdate = {},
): Promise<Array<T & EventPlace>> {
  if (drafts.length === 0) return [];
  const { last_seq } = await trx
    .updateTable('runs')
    .set((eb) => ({ ...runPatch, last_seq: eb('last_seq', '+', drafts.length) }))
    .where('id', '=', runId)
    .returning('last_seq')
    .executeTakeFirstOrThrow();
  return insertPlaced(trx, runId, drafts, last_seq);
}

export type OwnedAppend<T> =
  | { readonly outcome: 'stored'; readonly events: T[] }
  /** `output_count` is not what the writer expected: an earlier, unacknowledged batch was stored after all. */
  | { readonly outcome: 'count-mismatch'; readonly outputCount: number }
  /** The run is no longer this instance's (taken over, or finished): nothing was stored. */
  | { readonly outcome: 'fenced' };

/**
 * `appendRunEvents` for the run's writer on the instance executing it. Stores nothing unless
 * `owner` still holds the run (RUNNING or CANCELLING): an instance that was cut off long enough
 * to be taken over must not write into a history that has already ended (fencing). And stores
 * nothing unless `outputBefore` output events are stored so far, so that retrying a batch whose
 * commit was never acknowledged cannot store it twice.
 */
export async function appendOwnedRunEvents<T extends EventDraft>(
  trx: Transaction<Database>,
  runId: string,
  owner: string,
  outputBefore: number,
  drafts: readonly T[],
  runPatch: RunRowUpdate = {},
): Promise<OwnedAppend<T & EventPlace>> {
  const row = await trx
    .updateTable('runs')
    .set((eb) => ({
      ...runPatch,
      last_seq: eb('last_seq', '+', drafts.length),
      output_count: eb('output_count', '+', drafts.length),
    }))
    .where('id', '=', runId)
    .where('owner', '=', owner)
    .where('status', 'in', ['RUNNING', 'CANCELLING'])
    .where('output_count', '=', outputBefore)
    .returning('last_seq')
    .executeTakeFirst();
  if (row) return { outcome: 'stored', events: await insertPlaced(trx, runId, drafts, row.last_seq) };
  const current = await trx
    .selectFrom('runs')
    .select(['owner', 'status', 'output_count'])
    .where('id', '=', runId)
    .executeTakeFirst();
  if (!current || current.owner !== owner || !['RUNNING', 'CANCELLING'].includes(current.status)) return { outcome: 'fenced' };
  return { outcome: 'count-mismatch', outputCount: current.output_count };
}

async function insertPlaced<T extends EventDraft>(
  trx: Transaction<Database>,
  runId: string,
  drafts: readonly T[],
  lastSeq: number,
): Promise<Array<T & EventPlace>> {
  if (drafts.length === 0) return [];
  const first = lastSeq - drafts.length + 1;
  const events = drafts.map((draft, i) => placeEvent(draft, { run_id: runId, seq: first + i }));
  // Chunked: PostgreSQL accepts at most 65535 bind parameters per statement.
  for (let i = 0; i < events.length; i += 2000) {
    await trx
      .insertInto('run_events')
      .values(
        events.slice(i, i + 2000).map((event) => ({
          run_id: runId,
          seq: event.seq,
          event_type: event.event_type,
          created_at: event.timestamp,
          payload: JSON.stringify(event),
        })),
      )
      .execute();
  }
  return events;
}

/** seq is an `integer` column: a client's larger seq simply has nothing after it. */
const MAX_SEQ = 2_147_483_647;

/** Events with `seq > afterSeq`, oldest first, at most `limit` of them. */
export async function listRunEvents(
  db: Db,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<RunEvent[]> {
  const rows = await db
    .selectFrom('run_events')
    .select('payload')
    .where('run_id', '=', runId)
    .where('seq', '>', Math.min(afterSeq, MAX_SEQ))
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((row) => row.payload);
}
