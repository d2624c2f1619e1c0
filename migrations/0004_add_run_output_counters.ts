import { type Kysely, sql } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

/**
 * Two counters of a run's output events (those made from the script's stdout and stderr):
 * `output_count`, how many are stored, lets the single writer tell whether a batch whose commit
 * went unacknowledged (the connection dropped) was stored after all, so a retry never stores it
 * twice; `events_lost`, how many were dropped because the database stayed unreachable for
 * longer than the runner may hold them (0 for nearly every run), so the run's record says so.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('runs')
    .addColumn('output_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('events_lost', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  // Takeover looks for runs of dead instances on every heartbeat: keep that look cheap.
  await db.schema
    .createIndex('runs_active_heartbeat_idx')
    .on('runs')
    .column('heartbeat_at')
    .where(sql<boolean>`status in ('RUNNING', 'CANCELLING')`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('runs_active_heartbeat_idx').execute();
  await db.schema.alterTable('runs').dropColumn('events_lost').dropColumn('output_count').execute();
}
