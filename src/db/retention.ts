import { sql, type Kysely } from 'kysely';
import type { Database } from './database.js';

/** Retention's SQL: deleting finished runs (with their events) and stale idempotency keys. */

export interface DeletedBatch {
  readonly runs: number;
  readonly events: number;
}

/**
 * Deletes at most `limit` runs that finished more than `days` days ago (by the database's
 * clock), with their events, in one transaction. Rows another instance is deleting right now
 * are skipped (SKIP LOCKED), so several instances sweeping at once never wait on each other
 * and never count a run twice. Queued and running runs are never candidates.
 */
export async function deleteFinishedRunsBatch(db: Kysely<Database>, days: number, limit: number): Promise<DeletedBatch> {
  return db.transaction().execute(async (trx) => {
    const doomed = await trx
      .selectFrom('runs')
      .select('id')
      .where('status', 'in', ['COMPLETED', 'FAILED', 'CANCELLED'])
      .where('finished_at', '<', sql<Date>`now() - make_interval(days => ${days})`)
      .orderBy('finished_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (doomed.length === 0) return { runs: 0, events: 0 };
    const ids = doomed.map((row) => row.id);
    // Explicitly rather than by the foreign key's cascade: the count goes to the log and metrics.
    const events = await trx.deleteFrom('run_events').where('run_id', 'in', ids).executeTakeFirst();
    const runs = await trx.deleteFrom('runs').where('id', 'in', ids).executeTakeFirst();
    return { runs: Number(runs.numDeletedRows), events: Number(events.numDeletedRows) };
  });
}

/** Deletes at most `limit` idempotency keys older than `hours` hours; returns how many. */
export async function deleteExpiredIdempotencyKeys(db: Kysely<Database>, hours: number, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('idempotency_keys')
    .where(
      sql<string>`ctid`,
      'in',
      db
        .selectFrom('idempotency_keys')
        .select(sql<string>`ctid`.as('ctid'))
        .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${hours})`)
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
