import { type Kysely, type MigrationProvider, Migrator } from 'kysely';
import { migrations } from '../../migrations/index.js';

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date; safe to call from several instances at once (Kysely locks). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any database, whatever its tables
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  // Branches add migrations in parallel (a 0005 may land after a 0006 was applied): each one
  // is independent of its neighbours, so one that sorts before the last applied still applies.
  const { error, results } = await new Migrator({ db, provider, allowUnorderedMigrations: true }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(`migration ${failed ?? '(unknown)'} failed: ${String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
