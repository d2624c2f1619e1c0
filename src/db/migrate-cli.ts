import { ConfigError, loadConfig } from '../config.js';
import { connectDatabase } from './connect.js';
import { migrateToLatest } from './migrate.js';

/** `npm run migrate`: brings the configured database up to date and exits. */
try {
  const config = loadConfig();
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await migrateToLatest(database.db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } finally {
    await database.close();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
