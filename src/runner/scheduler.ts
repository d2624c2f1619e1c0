import os from 'node:os';
import { lockNextQueuedRun, setQueuedWaitReason, touchOwnedRuns } from '../db/runs.js';
import { claimableStrategies } from './concurrency-limits.js';
import { RunExecution, type ExecutionDeps } from './run-execution.js';
import { applyTransition, publishTransition } from './run-state.js';
import type { Strategy, StrategyRegistry } from './strategy-registry.js';
import type { RunLaunch } from '../db/runs.js';

/**
 * Takes queued runs oldest first and executes at most `maxConcurrentRuns` at once. The queue
 * lives in PostgreSQL: a run is claimed with FOR UPDATE SKIP LOCKED, so several instances can
 * share one queue. A run waits while the machine is short of memory or overloaded, and the
 * reason is written on the queued runs for clients to see.
 */
export class Scheduler {
  private readonly active = new Map<string, RunExecution>();
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopping = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private waitReason: string | null = null;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly deps: ExecutionDeps & { registry: StrategyRegistry }) {}

  start(): void {
    const { bus, config } = this.deps;
    this.unsubscribe.push(
      bus.subscribe('queueChanged', '', () => this.poke()),
      bus.subscribe('cancelRequested', '', ({ runId }) => this.active.get(runId)?.stop('cancel')),
    );
    this.pollTimer = setInterval(() => this.poke(), config.queuePollMs);
    this.poke();
  }

  /**
   * Keeps our runs' heartbeat fresh (so no other instance takes them over), stops any of them
   * that a cancel moved to CANCELLING (the cancel message over the bus is at-most-once), and
   * kills those that are no longer ours: another instance took them over while this one was
   * cut off or frozen, and has already ended them. Throws when the database does not answer.
   */
  async heartbeat(): Promise<void> {
    // Only runs that were ours before the query started can be judged by its answer.
    const before = [...this.active.entries()];
    const owned = new Map((await touchOwnedRuns(this.deps.db, this.deps.config.instanceId)).map((r) => [r.id, r.status]));
    for (const [id, execution] of before) {
      const status = owned.get(id);
      if (status === undefined) {
        if (!execution.exited) this.deps.log.warn({ runId: id }, 'run was taken over by another instance; stopping its process');
        execution.stop('fenced');
      } else if (status === 'CANCELLING') {
        execution.stop('cancel');
      }
    }
  }

  /** Runs executing in this instance. */
  get activeRunIds(): string[] {
    return [...this.active.keys()];
  }

  /** Stops a run executing here; false if it is not ours. */
  stopLocal(runId: string, reason: 'cancel' | 'timeout' | 'shutdown'): boolean {
    const execution = this.active.get(runId);
    execution?.stop(reason);
    return execution !== undefined;
  }

  /** Looks at the queue soon; calls made while a look is under way are merged into one more. */
  poke(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.fill()
      .catch((err) => this.deps.log.error({ err }, 'scheduling failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async fill(): Promise<void> {
    const { config } = this.deps;
    while (!this.stopping && this.active.size < config.maxConcurrentRuns) {
      if (await this.machineBusy()) return;
      const claimed = await this.deps.db.transaction().execute(async (trx) => {
        // Cluster-wide and per-strategy limits are checked and the claim made under one lock.
        const strategies = await claimableStrategies(trx, this.deps.registry, config);
        const next = await lockNextQueuedRun(trx, strategies);
        if (!next) return undefined;
        const transition = await applyTransition(trx, next.id, 'RUNNING', {
          message: 'Running',
          patch: { owner: config.instanceId },
        });
        // A run keeps what it was queued with, whatever its manifest became since.
        const launch = next.launch ?? launchOf(this.deps.registry.get(next.strategy));
        return { transition: transition!, launch };
      });
      if (!claimed) return;
      publishTransition(this.deps.bus, claimed.transition, this.deps.metrics);
      const run = claimed.transition.run;
      const execution = new RunExecution(this.deps, run, claimed.launch);
      this.active.set(run.id, execution);
      void execution.done.finally(() => {
        this.active.delete(run.id);
        // A slot opened, here and, with cluster-wide or per-strategy limits, on other instances.
        this.poke();
        this.deps.bus.publish('queueChanged', '', {});
      });
    }
  }

  private async machineBusy(): Promise<boolean> {
    const { config } = this.deps;
    const { freeMemoryMb, loadPerCpu } = measureMachine();
    let reason: string | null = null;
    if (freeMemoryMb < config.minFreeMemoryMb) {
      reason = `Waiting for memory: ${Math.round(freeMemoryMb)} MB free, ${config.minFreeMemoryMb} MB needed to start a run`;
    } else if (loadPerCpu > config.maxLoadPerCpu) {
      reason = `Waiting for the machine: load ${loadPerCpu.toFixed(2)} per core is above ${config.maxLoadPerCpu}`;
    }
    if (reason !== this.waitReason) {
      this.waitReason = reason;
      if (reason) this.deps.log.warn(reason);
      await setQueuedWaitReason(this.deps.db, reason);
    } else if (reason) {
      // Newly queued runs get the reason too.
      await setQueuedWaitReason(this.deps.db, reason);
    }
    return reason !== null;
  }

  /**
   * Stops claiming, gives running children `graceMs` to finish, then stops the rest
   * (they end FAILED / INTERRUPTED) and waits for their final status to be stored.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.pollTimer);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.ticking;
    const all = () => Promise.all([...this.active.values()].map((e) => e.done));
    const finished = await Promise.race([
      all().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
    ]);
    if (!finished) {
      for (const execution of this.active.values()) execution.stop('shutdown');
      await all();
    }
  }
}

const launchOf = (strategy: Strategy): RunLaunch => ({ command: strategy.command, workingDir: strategy.directory });

function measureMachine(): { freeMemoryMb: number; loadPerCpu: number } {
  // availableParallelism counts the cores this process may use (containers included).
  return { freeMemoryMb: os.freemem() / 1024 / 1024, loadPerCpu: os.loadavg()[0]! / os.availableParallelism() };
}
