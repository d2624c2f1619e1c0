import type { Transaction } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { countActiveRunsByStrategy, lockClaims } from '../db/runs.js';
import type { StrategyRegistry } from './strategy-registry.js';

/**
 * Limits beyond the per-instance MAX_CONCURRENT_RUNS (the machine's CPU): a cluster-wide
 * MAX_CONCURRENT_RUNS_TOTAL, and a manifest's `max_concurrent` for a strategy that shares
 * something scarce (a data vendor's quota). Both are checked inside the claim transaction under
 * one advisory lock, held until the claim commits: two instances can never both see the last
 * free slot. Without any such limit no lock is taken and claims stay fully parallel.
 */

/** The strategies of `registry` that may start one more run now (empty: none may). */
export async function claimableStrategies(
  trx: Transaction<Database>,
  registry: StrategyRegistry,
  config: Pick<Config, 'maxConcurrentRunsTotal'>,
): Promise<string[]> {
  const strategies = registry.list();
  const limited = strategies.some((s) => s.maxConcurrent !== undefined);
  if (config.maxConcurrentRunsTotal === 0 && !limited) return strategies.map((s) => s.name);
  await lockClaims(trx);
  const active = await countActiveRunsByStrategy(trx);
  let total = 0;
  for (const count of active.values()) total += count;
  if (config.maxConcurrentRunsTotal > 0 && total >= config.maxConcurrentRunsTotal) return [];
  return strategies
    .filter((s) => s.maxConcurrent === undefined || (active.get(s.name) ?? 0) < s.maxConcurrent)
    .map((s) => s.name);
}
