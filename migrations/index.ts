import type { Migration } from 'kysely';
import * as createRuns from './0001_create_runs.js';
import * as createRunEvents from './0002_create_run_events.js';
import * as addRunOutputCounters from './0004_add_run_output_counters.js';

/**
 * Every migration, in order. Listed statically (not read from the folder at run time) so they
 * load under any TypeScript runner (tsx, vitest) and in a bundle. Append only.
 */
export const migrations: Record<string, Migration> = {
  '0001_create_runs': createRuns,
  '0002_create_run_events': createRunEvents,
  // 0003 is left for a migration being written on another branch; the migrator orders by name.
  '0004_add_run_output_counters': addRunOutputCounters,
};
