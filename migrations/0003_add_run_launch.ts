import type { Kysely } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

// What a run was queued to execute (argv and working folder), so that a manifest changed or
// removed while the run waits does not change what it runs. Null for runs queued before.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').addColumn('command', 'jsonb').addColumn('working_dir', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').dropColumn('command').dropColumn('working_dir').execute();
}
