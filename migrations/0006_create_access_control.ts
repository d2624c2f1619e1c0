import { sql, type Kysely } from 'kysely';

// Frozen in time: never import application code here, never edit after it has shipped.

// Who may do what: API tokens (stored only as a hash), browser sessions tied to a token (so a
// revoked token ends its sessions at once), server-wide secrets shared by every instance (the
// key that signs a run's read-only stream URL), and who started or cancelled each run.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_tokens')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('viewer', 'operator', 'admin')`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('token_name', 'text', (c) => c.notNull().references('api_tokens.name').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();
  await db.schema
    .createTable('server_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('runs').addColumn('started_by', 'text').addColumn('cancelled_by', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('runs').dropColumn('started_by').dropColumn('cancelled_by').execute();
  await db.schema.dropTable('server_secrets').execute();
  await db.schema.dropTable('sessions').execute();
  await db.schema.dropTable('api_tokens').execute();
}
