import { type Kysely, sql } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('run_events')
    .addColumn('run_id', 'uuid', (c) => c.notNull().references('runs.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('payload', 'json', (c) => c.notNull())
    // (run_id, seq) is both the uniqueness rule and the replay index.
    .addPrimaryKeyConstraint('run_events_pkey', ['run_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('run_events').execute();
}
