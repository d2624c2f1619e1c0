import { type Kysely, sql } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('number', 'integer', (c) => c.notNull().unique().generatedAlwaysAsIdentity())
    .addColumn('strategy', 'text', (c) => c.notNull())
    .addColumn('parameters', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('QUEUED', 'RUNNING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED')`),
    )
    .addColumn('progress_percent', 'double precision')
    .addColumn('stage', 'text')
    .addColumn('message', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('exit_code', 'integer')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('stderr_tail', 'jsonb')
    .addColumn('result', 'jsonb')
    .addColumn('timeout_seconds', 'integer')
    .addColumn('pid', 'integer')
    .addColumn('owner', 'text')
    .addColumn('heartbeat_at', 'timestamptz')
    .addColumn('wait_reason', 'text')
    .addColumn('last_seq', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();

  // The queue: claimed oldest first; a partial index keeps it small however long history grows.
  await db.schema
    .createIndex('runs_queued_idx')
    .on('runs')
    .column('number')
    .where(sql.ref('status'), '=', 'QUEUED')
    .execute();
  await db.schema.createIndex('runs_status_number_idx').on('runs').columns(['status', 'number']).execute();
  await db.schema.createIndex('runs_strategy_number_idx').on('runs').columns(['strategy', 'number']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('runs').execute();
}
