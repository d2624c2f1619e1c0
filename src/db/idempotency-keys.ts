import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './database.js';

/** The `idempotency_keys` table: which run a caller's key started, and for which request. */

type Db = Kysely<Database> | Transaction<Database>;

export interface IdempotencyRecord {
  readonly runId: string;
  readonly requestHash: string;
}

export interface IdempotencyClaim {
  /** The token's name; null without access control. */
  readonly caller: string | null;
  readonly key: string;
  readonly requestHash: string;
  readonly runId: string;
}

/** The key's record if it was given less than `hours` hours ago. */
export async function findIdempotencyKey(
  db: Db,
  caller: string | null,
  key: string,
  hours: number,
): Promise<IdempotencyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['run_id', 'request_hash'])
    .where((eb) => (caller === null ? eb('caller', 'is', null) : eb('caller', '=', caller)))
    .where('key', '=', key)
    .where('created_at', '>=', sql<Date>`now() - make_interval(hours => ${hours})`)
    .executeTakeFirst();
  return row && { runId: row.run_id, requestHash: row.request_hash };
}

/**
 * Records the key for `runId` inside the transaction that queues the run. False when the key
 * is held by a request less than `hours` hours old: the unique constraint makes a concurrent
 * request with the same key wait for this one's commit, then see its row, so only one wins.
 * An expired record is taken over.
 */
export async function claimIdempotencyKey(trx: Transaction<Database>, claim: IdempotencyClaim, hours: number): Promise<boolean> {
  const row = await trx
    .insertInto('idempotency_keys')
    .values({ caller: claim.caller, key: claim.key, request_hash: claim.requestHash, run_id: claim.runId })
    .onConflict((oc) =>
      oc
        .columns(['caller', 'key'])
        .doUpdateSet({
          request_hash: (eb) => eb.ref('excluded.request_hash'),
          run_id: (eb) => eb.ref('excluded.run_id'),
          created_at: sql`now()`,
        })
        .where('idempotency_keys.created_at', '<', sql<Date>`now() - make_interval(hours => ${hours})`),
    )
    .returning('run_id')
    .executeTakeFirst();
  return row !== undefined;
}
