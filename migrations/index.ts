import type { Migration } from 'kysely';
import * as createRuns from './0001_create_runs.js';
import * as createRunEvents from './0002_create_run_events.js';
import * as addRunLaunch from './0003_add_run_launch.js';
import * as addRunOutputCounters from './0004_add_run_output_counters.js';
import * as addIdempotencyKeysAndRetentionIndex from './0005_add_idempotency_keys_and_retention_index.js';
import * as createAccessControl from './0006_create_access_control.js';

/**
 * Every migration, in order. Listed statically (not read from the folder at run time) so they
 * load under any TypeScript runner (tsx, vitest) and in a bundle. Append only.
 */
export const migrations: Record<string, Migration> = {
  '0001_create_runs': createRuns,
  '0002_create_run_events': createRunEvents,
  '0003_add_run_launch': addRunLaunch,
  '0004_add_run_output_counters': addRunOutputCounters,
  '0005_add_idempotency_keys_and_retention_index': addIdempotencyKeysAndRetentionIndex,
  '0006_create_access_control': createAccessControl,
};
