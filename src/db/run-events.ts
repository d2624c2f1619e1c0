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
  if (drafts.length === 0) return [];
  const batch = placeBatch(runId, drafts, lastSeq - drafts.length + 1);
  await sql`
    insert into run_events (run_id, seq, event_type, created_at, payload)
    select ${runId}::uuid, ${batch.first}::int + e.ord::int - 1, e.event_type, e.created_at, e.payload
    from ${batchRows(batch)}
  `.execute(trx);
  return batch.events;
}

/**
 * `appendOwnedRunEvents` in one statement, without a transaction around it, for the writer's
 * usual case: nobody else has written to the run since its own last batch, so the run's
 * `last_seq` is still `expectedLastSeq` and the new events' seq numbers are known before the
 * statement. The update of the run (with every condition of the general path, plus that
 * `last_seq`) and the insert of the rows are one statement: the rows go in only if the update
 * matched. One round trip instead of four (BEGIN, UPDATE, INSERT, COMMIT), which on a chatty run
 * is most of the server's work. Undefined when anything differs: nothing was written, and the
 * general path tells why (taken over, an unacknowledged batch, a status event written by a
 * cancel in between).
 */
export async function appendOwnedRunEventsAfter<T extends EventDraft>(
  db: Kysely<Database>,
  runId: string,
  owner: string,
  outputBefore: number,
  expectedLastSeq: number,
  drafts: readonly T[],
  runPatch: RunRowUpdate = {},
): Promise<Array<T & EventPlace> | undefined> {
  const count = drafts.length;
  if (count === 0) return [];
  const batch = placeBatch(runId, drafts, expectedLastSeq + 1);
  const result = await db
    .with('bumped', (qb) =>
      qb
        .updateTable('runs')
        .set((eb) => ({
          ...runPatch,
          last_seq: eb('last_seq', '+', count),
          output_count: eb('output_count', '+', count),
        }))
        .where('id', '=', runId)
        .where('owner', '=', owner)
        .where('status', 'in', ['RUNNING', 'CANCELLING'])
        .where('output_count', '=', outputBefore)
        .where('last_seq', '=', expectedLastSeq)
        .returning('last_seq'),
    )
    .insertInto('run_events')
    .columns(['run_id', 'seq', 'event_type', 'created_at', 'payload'])
    .expression(
      sql`select ${runId}::uuid, ${batch.first}::int + e.ord::int - 1, e.event_type, e.created_at, e.payload
          from bumped, ${batchRows(batch)}`,
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === count ? batch.events : undefined;
}

interface PlacedBatch<T> {
  readonly first: number;
  readonly events: T[];
  readonly types: string[];
  readonly timestamps: string[];
  /** `JSON.stringify(events)`. */
  readonly payloads: string;
}

/** The drafts in their places from seq `first` on, with the columns the insert takes. */
function placeBatch<T extends EventDraft>(runId: string, drafts: readonly T[], first: number): PlacedBatch<T & EventPlace> {
  const count = drafts.length;
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
  return { first, events, types, timestamps, payloads };
}

/** The batch as rows `e(payload, event_type, created_at, ord)`, numbered from 1. */
function batchRows(batch: PlacedBatch<unknown>) {
  return sql`rows from (
      json_array_elements(${batch.payloads}::json),
      unnest(${batch.types}::text[]),
      unnest(${batch.timestamps}::timestamptz[])
    ) with ordinality as e(payload, event_type, created_at, ord)`;
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
