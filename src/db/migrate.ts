import { type Kysely, type MigrationProvider, Migrator } from 'kysely';
import { migrations } from '../../migrations/index.js';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to call from several instances at once (Kysely locks). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any database, whatever its tables
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const { error, results } = await new Migrator({
    db,
    provider,
    // Migrations written on parallel branches may land out of name order (a 0003 after 0004).
    allowUnorderedMigrations: true,
  }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(`migration ${failed ?? '(unknown)'} failed: ${String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
