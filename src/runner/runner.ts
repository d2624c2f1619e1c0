import { ConflictError, NotFoundError, ResourceExhaustedError, ShuttingDownError } from '../errors.js';
import { appendRunEvents } from '../db/run-events.js';
import { countQueuedRuns, findRun, insertRun, lockQueue, type RunRecord } from '../db/runs.js';
import { confineDataDir } from './data-dir.js';
import { recoverInterruptedRuns } from './recovery.js';
import type { ExecutionDeps } from './run-execution.js';
import { ProcessReaper } from './process-reaper.js';
import { isTerminal } from '../model/run-status.js';
import { publishTransition, transitionRun } from './run-state.js';
import { Scheduler } from './scheduler.js';
import type { StrategyRegistry } from './strategy-registry.js';
import type { Transaction } from 'kysely';
import type { Database } from '../db/database.js';
import { findSetpriv } from './parent-death.js';

export interface SubmitOptions {
  /** Name of the token that asks (null when access control is off). */
  startedBy?: string | null;
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

  private livenessTimer: NodeJS.Timeout | undefined;
  private livenessStopped = false;
  private livenessTick: Promise<void> | undefined;
  /** Since when (ms) this instance has reached the database without a failed heartbeat. */
  private reachableSince: number | undefined;

  /**
   * Recovers runs a dead server left behind, then starts taking queued runs. Every
   * HEARTBEAT_MS the instance proves it is alive and looks for runs of dead instances: with
   * several instances, one may die while the others live on.
   */
  async start(): Promise<void> {
    this.deps.reaper = ProcessReaper.start(this.deps.log);
    this.reachableSince = Date.now();
    await recoverInterruptedRuns(this.deps, { judgeStale: false });
    // Looked up now (it runs `setpriv --help`, synchronously) rather than at the first spawn,
    // where it held up every stream of the server for tens of milliseconds.
    findSetpriv();
    this.scheduler.start();
    this.scheduleLiveness();
  }

  /**
   * Heartbeat, then takeover. Runs until the scheduler has stopped: a graceful stop can last
   * SHUTDOWN_GRACE_MS, and its runs must not look dead meanwhile.
   */
  private scheduleLiveness(): void {
    if (this.livenessStopped) return;
    this.livenessTimer = setTimeout(() => {
      this.livenessTick = this.liveness().finally(() => this.scheduleLiveness());
    }, this.deps.config.heartbeatMs);
  }

  private async liveness(): Promise<void> {
    const { config, log } = this.deps;
    try {
      await this.scheduler.heartbeat();
      this.reachableSince ??= Date.now();
    } catch (err) {
      if (this.reachableSince !== undefined) log.warn({ err }, 'heartbeat failed (database unreachable?)');
      this.reachableSince = undefined;
      return;
    }
    if (this.livenessStopped) return;
    try {
      const judgeStale = this.reachableSince !== undefined && Date.now() - this.reachableSince >= config.takeoverAfterMs;
      await recoverInterruptedRuns(this.deps, { judgeStale });
    } catch (err) {
      log.warn({ err }, 'takeover check failed');
    }
  }

  private stopping = false;

  /** True from the moment `stop()` begins: the runner finishes what it has and takes nothing new. */
  get draining(): boolean {
    return this.stopping;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.scheduler.stop(this.deps.config.shutdownGraceMs);
    this.livenessStopped = true;
    clearTimeout(this.livenessTimer);
    await this.livenessTick;
    this.deps.reaper?.close();
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
      await lockQueue(trx);
      const waiting = await countQueuedRuns(trx);
      if (waiting >= config.maxQueuedRuns) {
        throw new ResourceExhaustedError(`${waiting} runs are already waiting (MAX_QUEUED_RUNS=${config.maxQueuedRuns}); nothing was queued. Retry when the queue has drained.`);
      }
      const inserted = await insertRun(trx, {
        startedBy: options.startedBy ?? null,
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
  async cancel(runId: string, cancelledBy: string | null = null): Promise<RunRecord> {
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
        patch: { cancelled_by: cancelledBy },
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
