import os from 'node:os';
import { listActiveRuns, type RunRecord } from '../db/runs.js';
import type { ExecutionDeps } from './run-execution.js';
import { processAlive, signalProcessGroup } from './child-process.js';
import { transitionRun } from './run-state.js';

/** A run whose owner has not refreshed its heartbeat for this long is presumed dead. */
const STALE_HEARTBEAT_MS = 60_000;

/**
 * Runs left RUNNING or CANCELLING by a server that died: their leftover process group is
 * killed (a detached child outlives its server) and they become FAILED / INTERRUPTED, with a
 * status event, so their history ends cleanly. Runs of live instances are left alone.
 */
export async function recoverInterruptedRuns(deps: ExecutionDeps): Promise<RunRecord[]> {
  const recovered: RunRecord[] = [];
  for (const run of await listActiveRuns(deps.db)) {
    if (!ownerIsGone(run)) continue;
    if (run.pid !== null && ownerHost(run) === os.hostname()) signalProcessGroup(run.pid, 'SIGKILL');
    const message = `Interrupted: the server running it (${run.owner ?? 'unknown'}) stopped`;
    const transition = await transitionRun(deps, run.id, 'FAILED', {
      message,
      error: { code: 'INTERRUPTED', message },
    });
    if (transition) {
      recovered.push(transition.run);
      deps.log.warn({ runId: run.id, owner: run.owner, pid: run.pid }, 'interrupted run recovered');
    }
  }
  return recovered;
}

function ownerHost(run: RunRecord): string | undefined {
  return run.owner?.split(':')[0];
}

/**
 * On this machine a dead owner pid settles it at once. Anywhere, an owner that stopped
 * refreshing its heartbeat is gone (this also covers a pid reused by an unrelated process).
 */
function ownerIsGone(run: RunRecord): boolean {
  const [host, pid] = (run.owner ?? '').split(':');
  if (host === os.hostname() && pid && Number(pid) !== process.pid && !processAlive(Number(pid))) return true;
  const heartbeat = Date.parse(run.heartbeatAt ?? run.startedAt ?? run.createdAt);
  return Date.now() - heartbeat > STALE_HEARTBEAT_MS;
}
