import { type Kysely, sql, type Transaction } from 'kysely';
import { withJsonText } from '../model/json-text.js';
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

/**
 * One statement per batch, whatever its size, with five parameters: no query is built per row
 * and no bind-parameter limit applies. The payloads travel as one JSON array, each element
 * exactly the text `JSON.stringify` made of the placed event (a `json` column and
 * `json_array_elements` keep that text verbatim, so key order and spelling are what clients
 * receive); `rows from … with ordinality` zips it with the other columns and numbers the rows.
 */
async function insertPlaced<T extends EventDraft>(
  trx: Transaction<Database>,
  runId: string,
  drafts: readonly T[],
  lastSeq: number,
): Promise<Array<T & EventPlace>> {
  const count = drafts.length;
  if (count === 0) return [];
  const first = lastSeq - count + 1;
  const events = new Array<T & EventPlace>(count);
  const types = new Array<string>(count);
  const timestamps = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const event = placeEvent(drafts[i]!, { run_id: runId, seq: first + i });
    events[i] = event;
    types[i] = event.event_type;
    timestamps[i] = event.timestamp;
  }
  // The array's JSON is its elements' JSON, comma-separated: one call, no string per event.
  // Kept with the array, which is what gets published: the Redis bus sends the same text.
  const payloads = JSON.stringify(events);
  withJsonText(events, payloads);
  await sql`
    insert into run_events (run_id, seq, event_type, created_at, payload)
    select ${runId}::uuid, ${first}::int + e.ord::int - 1, e.event_type, e.created_at, e.payload
    from rows from (
      json_array_elements(${payloads}::json),
      unnest(${types}::text[]),
      unnest(${timestamps}::timestamptz[])
    ) with ordinality as e(payload, event_type, created_at, ord)
  `.execute(trx);
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
