import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { listActiveRuns, type RunRecord } from '../db/runs.js';
import type { ExecutionDeps } from './run-execution.js';
import { processAlive, signalProcessGroup } from './child-process.js';
import { transitionRun } from './run-state.js';

/**
 * Runs left RUNNING or CANCELLING by a server that died: their leftover process group is
 * killed when it is on this machine and they become FAILED / INTERRUPTED, with a status event,
 * so their history ends cleanly. Runs of live instances are left alone.
 *
 * An owner is dead when its process is gone (on this machine, certain at once), or when its
 * heartbeat is older than TAKEOVER_AFTER_MS by the database's clock (`judgeStale`). The caller
 * passes `judgeStale` only once it has itself reached the database without a break for that
 * long: after an outage every heartbeat is old, and the live owners need a beat to refresh theirs.
 */
export async function recoverInterruptedRuns(deps: ExecutionDeps, options: { judgeStale: boolean }): Promise<RunRecord[]> {
  const recovered: RunRecord[] = [];
  for (const { run, heartbeatStale } of await listActiveRuns(deps.db, deps.config.takeoverAfterMs)) {
    // Our own runs are alive by definition (a database outage may have delayed their heartbeat).
    if (run.owner === deps.config.instanceId) continue;
    if (!((options.judgeStale && heartbeatStale) || ownerDiedHere(run))) continue;
    if (run.pid !== null && ownerHost(run) === os.hostname() && (await isRunProcess(run.pid, run.id))) {
      signalProcessGroup(run.pid, 'SIGKILL');
    }
    const message = `Interrupted: the server running it (${run.owner ?? 'unknown'}) stopped or stopped answering`;
    const transition = await transitionRun(deps, run.id, 'FAILED', {
      message,
      error: { code: 'INTERRUPTED', message },
    });
    if (transition) {
      recovered.push(transition.run);
      deps.log.warn({ runId: run.id, owner: run.owner, pid: run.pid, heartbeatStale }, 'interrupted run taken over');
    }
  }
  return recovered;
}

function ownerHost(run: RunRecord): string | undefined {
  return run.owner?.split(':')[0];
}

/** On this machine a dead owner pid settles it at once; elsewhere the stale heartbeat does. */
function ownerDiedHere(run: RunRecord): boolean {
  // owner is `host:pid:nonce` (`host:pid` before the nonce was added).
  const [host, pid] = (run.owner ?? '').split(':');
  return host === os.hostname() && Boolean(pid) && !processAlive(Number(pid));
}

/**
 * Whether `pid` is still the run's process, not an unrelated one that got its number after a
 * reboot: the runner put STRATEGY_RUN_ID in the child's environment.
 */
async function isRunProcess(pid: number, runId: string): Promise<boolean> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    return environ.split('\0').includes(`STRATEGY_RUN_ID=${runId}`);
  } catch {
    return false; // gone already (or no /proc to tell): killing blind is worse
  }
}
