import { ConflictError, NotFoundError, ShuttingDownError } from '../errors.js';
import { appendRunEvents } from '../db/run-events.js';
import { findRun, insertRun, type RunRecord } from '../db/runs.js';
import { confineDataDir } from './data-dir.js';
import { recoverInterruptedRuns } from './recovery.js';
import type { ExecutionDeps } from './run-execution.js';
import { isTerminal } from '../model/run-status.js';
import { publishTransition, transitionRun } from './run-state.js';
import { Scheduler } from './scheduler.js';
import type { StrategyRegistry } from './strategy-registry.js';
import type { Transaction } from 'kysely';
import type { Database } from '../db/database.js';

export interface SubmitOptions {
  /**
   * Runs inside the transaction that queues the run (e.g. recording an idempotency key), so
   * both are stored or neither: throwing rolls the run back and nothing is queued.
   */
  inTransaction?: (trx: Transaction<Database>, run: RunRecord) => Promise<void>;
}

/**
 * What the rest of the service may ask of the run engine: queue a run, cancel one, start and
 * stop. Everything else (scheduling, processes, event writing) stays inside `src/runner`.
 */
export class Runner {
  private readonly scheduler: Scheduler;

  constructor(private readonly deps: ExecutionDeps & { registry: StrategyRegistry }) {
    this.scheduler = new Scheduler(deps);
  }

  get registry(): StrategyRegistry {
    return this.deps.registry;
  }

  private recoveryTimer: NodeJS.Timeout | undefined;

  /**
   * Recovers runs a dead server left behind, then starts taking queued runs. Recovery runs
   * again every minute: with several instances, one may die while the others live on.
   */
  async start(): Promise<void> {
    await recoverInterruptedRuns(this.deps);
    this.scheduler.start();
    this.recoveryTimer = setInterval(() => {
      recoverInterruptedRuns(this.deps).catch((err) => this.deps.log.warn({ err }, 'recovery check failed'));
    }, 60_000);
  }

  private stopping = false;

  /** True from the moment `stop()` begins: the runner finishes what it has and takes nothing new. */
  get draining(): boolean {
    return this.stopping;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.recoveryTimer);
    await this.scheduler.stop(this.deps.config.shutdownGraceMs);
  }

  /**
   * Validates and queues a run. Its first event (seq 1) is the `queued` status.
   * @throws NotFoundError, BadUserInputError, ShuttingDownError while draining
   */
  async submit(strategyName: string, parameters: unknown, options: SubmitOptions = {}): Promise<RunRecord> {
    // Another instance (or this one after its restart) takes the run instead of it waiting here.
    if (this.stopping) throw new ShuttingDownError();
    const { registry, config, db, bus } = this.deps;
    const strategy = registry.get(strategyName);
    const validated = await confineDataDir(registry.validateParameters(strategyName, parameters), strategy, config.dataDirs);
    const timeoutSeconds = strategy.timeoutSeconds ?? (config.defaultTimeoutSeconds || null);
    const { run, event } = await db.transaction().execute(async (trx) => {
      const inserted = await insertRun(trx, {
        strategy: strategy.name,
        parameters: validated,
        timeoutSeconds,
        launch: { command: strategy.command, workingDir: strategy.directory },
      });
      const [queued] = await appendRunEvents(trx, inserted.id, [
        { event_type: 'status', timestamp: inserted.createdAt, status: 'queued', message: 'Queued' },
      ]);
      await options.inTransaction?.(trx, inserted);
      return { run: { ...inserted, lastSeq: 1 }, event: queued! };
    });
    publishTransition(bus, { run, event }, this.deps.metrics);
    bus.publish('queueChanged', '', {});
    return run;
  }

  /**
   * Queued: CANCELLED at once. Running: CANCELLING, then the process group is stopped
   * (SIGTERM, SIGKILL after the grace period) and the run ends CANCELLED.
   * @throws NotFoundError, ConflictError when the run has already finished
   */
  async cancel(runId: string): Promise<RunRecord> {
    const { db, bus } = this.deps;
    for (;;) {
      const run = await findRun(db, runId);
      if (!run) throw new NotFoundError(`No run with id "${runId}"`);
      if (isTerminal(run.status)) {
        throw new ConflictError(`Run ${runId} has already finished (${run.status.toLowerCase()}); there is nothing to cancel`);
      }
      if (run.status === 'CANCELLING') {
        this.stopEverywhere(runId);
        return run;
      }
      const to = run.status === 'QUEUED' ? 'CANCELLED' : 'CANCELLING';
      const transition = await transitionRun(this.deps, runId, to, {
        message: to === 'CANCELLED' ? 'Cancelled before it started' : 'Cancelling',
      });
      // Lost a race (claimed or finished meanwhile): look again.
      if (!transition) continue;
      if (to === 'CANCELLING') this.stopEverywhere(runId);
      else bus.publish('queueChanged', '', {});
      return transition.run;
    }
  }

  /** Runs executing in this instance. */
  get activeRunIds(): string[] {
    return this.scheduler.activeRunIds;
  }

  private stopEverywhere(runId: string): void {
    if (!this.scheduler.stopLocal(runId, 'cancel')) this.deps.bus.publish('cancelRequested', '', { runId });
  }
}
