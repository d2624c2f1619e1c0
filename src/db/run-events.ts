import type { Kysely, Transaction } from 'kysely';
import type { Database, RunRowUpdate } from './database.js';

/** The `run_events` table: the durable, ordered event log of every run. */

type Db = Kysely<Database> | Transaction<Database>;

/** An event before it has a place in the log. */
export interface EventDraft {
  readonly event_type: string;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}

/** An event in the wire format of CONTRACT §4, as stored and as sent. */
export interface StoredEvent extends EventDraft {
  readonly run_id: string;
  readonly seq: number;
}

/**
 * Gives `drafts` the run's next sequence numbers and stores them, inside `trx`.
 * The sequence counter lives on the run's row, so the row lock makes every writer
 * (the executing instance, a cancel from another instance, recovery) take turns.
 */
export async function appendRunEvents(
  trx: Transaction<Database>,
  runId: string,
  drafts: readonly EventDraft[],
  /** Other columns of the run to set in the same statement (its progress snapshot). */
  runPatch: RunRowUpdate = {},
): Promise<StoredEvent[]> {
  if (drafts.length === 0) return [];
  const { last_seq } = await trx
    .updateTable('runs')
    .set((eb) => ({ ...runPatch, last_seq: eb('last_seq', '+', drafts.length) }))
    .where('id', '=', runId)
    .returning('last_seq')
    .executeTakeFirstOrThrow();
  const first = last_seq - drafts.length + 1;
  // Key order as in CONTRACT §4 (type, time, run, seq first): the stored JSON is sent verbatim.
  const events = drafts.map((draft, i): StoredEvent => {
    const { event_type, timestamp, ...rest } = draft;
    return { event_type, timestamp, run_id: runId, seq: first + i, ...rest };
  });
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

/** Events with `seq > afterSeq`, oldest first, at most `limit` of them. */
export async function listRunEvents(
  db: Db,
  runId: string,
  afterSeq: number,
  limit: number,
): Promise<StoredEvent[]> {
  const rows = await db
    .selectFrom('run_events')
    .select('payload')
    .where('run_id', '=', runId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((row) => row.payload as StoredEvent);
}
