import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Queued and executing (RUNNING or CANCELLING) runs, across every instance. */
export async function countActiveRuns(db: Db): Promise<{ queued: number; running: number }> {
  const rows = await db
    .selectFrom('runs')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('status', 'in', ['QUEUED', 'RUNNING', 'CANCELLING'])
    .groupBy('status')
    .execute();
  const count = (status: string) => Number(rows.find((row) => row.status === status)?.count ?? 0);
  return { queued: count('QUEUED'), running: count('RUNNING') + count('CANCELLING') };
}
