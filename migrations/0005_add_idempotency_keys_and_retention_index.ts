import { type Kysely, sql } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Retention finds finished runs by age: a partial index on the terminal ones keeps the sweep
  // cheap however many runs there are (queued and running runs are never candidates).
  await db.schema
    .createIndex('runs_finished_at_idx')
    .on('runs')
    .column('finished_at')
    .where(sql.ref('status'), 'in', sql`('COMPLETED', 'FAILED', 'CANCELLED')`)
    .execute();

  // Idempotent execute: one row per (caller, key). The caller is the token's name once access
  // control exists, null until then; NULLS NOT DISTINCT makes two null callers one caller, so
  // the unique constraint itself decides between two concurrent requests with one key.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('caller', 'text')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('idempotency_keys_caller_key', ['caller', 'key'], (c) => c.nullsNotDistinct())
    .execute();
  await db.schema.createIndex('idempotency_keys_created_at_idx').on('idempotency_keys').column('created_at').execute();
  // Deleting a run (retention) finds its keys without a scan.
  await db.schema.createIndex('idempotency_keys_run_id_idx').on('idempotency_keys').column('run_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute();
  await db.schema.dropIndex('runs_finished_at_idx').execute();
}
