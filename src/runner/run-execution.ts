import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { EventDraft, LogLevel } from '../model/run-event.js';
import { type RunLaunch, type RunRecord, updateRun } from '../db/runs.js';
import type { Logger } from '../logger.js';
import type { RunnerMetrics } from '../observability/metrics.js';
import type { EventBus } from '../pubsub/event-bus.js';
import type { ProcessReaper } from './process-reaper.js';
import { childEnvironment, signalProcessGroup, spawnStrategyProcess, terminateProcessGroup } from './child-process.js';
import { RunEventWriter } from './event-writer.js';
import { LineSplitter } from './line-splitter.js';
import { ProgressMetrics } from './progress-metrics.js';
import { parseStderrLine, parseStdoutLine } from './progress-parser.js';
import { transitionRun, type TransitionDetails } from './run-state.js';

export interface ExecutionDeps {
  db: Kysely<Database>;
  bus: EventBus;
  log: Logger;
  config: Config;
  /** Kills the process groups of this instance's runs if the server dies without stopping them. */
  reaper?: ProcessReaper | undefined;
  /** Where runs and event batches are counted; nothing is recorded without it. */
  metrics?: RunnerMetrics | undefined;
}

/**
 * Why a run is being stopped early; decides its final status. `fenced`: another instance took
 * the run over (it thought this one dead) and has already ended it, so nothing more is written.
 */
type StopReason = 'cancel' | 'timeout' | 'shutdown' | 'fenced';

const STDERR_TAIL_LINES = 20;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

/**
 * One claimed run, from spawn to terminal status. Output lines become events through the run's
 * single writer; the process group is always gone before the final status is written.
 */
export class RunExecution {
  private stopReason: StopReason | undefined;
  private pid: number | undefined;
  private readonly stderrTail: string[] = [];
  private readonly writer: RunEventWriter;
  private readonly metrics = new ProgressMetrics();
  readonly done: Promise<void>;

  constructor(
    private readonly deps: ExecutionDeps,
    readonly run: RunRecord,
    private readonly launch: RunLaunch,
  ) {
    this.writer = new RunEventWriter(
      deps,
      run.id,
      {
        flushMs: deps.config.eventFlushMs,
        owner: deps.config.instanceId,
        bufferBytes: deps.config.eventBufferBytes,
        outageLimitMs: deps.config.eventOutageLimitMs,
      },
      () => this.stop('fenced'),
    );
    this.done = this.execute().catch((error) => {
      deps.log.error({ err: error, runId: run.id }, 'run execution failed unexpectedly');
    });
  }

  /** Whether the strategy's direct child has exited. */
  exited = false;

  /**
   * Stops the run: `cancel` ends CANCELLED, `timeout` FAILED/TIMEOUT, `shutdown`
   * FAILED/INTERRUPTED; `fenced` kills it at once and writes nothing (its run has already ended).
   */
  stop(reason: StopReason): void {
    if (reason === 'fenced') {
      // After the exit there is nothing left to kill, and the outcome is settled.
      if (this.stopReason === 'fenced' || this.exited) return;
      this.stopReason = 'fenced';
      if (this.pid !== undefined) signalProcessGroup(this.pid, 'SIGKILL');
      return;
    }
    if (this.stopReason) return;
    this.stopReason = reason;
    if (this.pid !== undefined) void terminateProcessGroup(this.pid, this.deps.config.cancelGraceMs);
  }

  private async execute(): Promise<void> {
    const { config, log } = this.deps;
    const timeoutSeconds = this.run.timeoutSeconds ?? 0;
    const child = spawnStrategyProcess({
      command: this.launch.command,
      args: ['--params-json', JSON.stringify(this.run.parameters)],
      cwd: this.launch.workingDir,
      env: childEnvironment({ STRATEGY_PROGRESS: 'json', STRATEGY_RUN_ID: this.run.id }),
    });
    // Listen before the first await: 'exit' is not replayed to a listener added later, and a
    // quick script can be gone before the database answers.
    const exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        resolve({ code, signal });
      });
      child.once('error', (error) => resolve({ code: null, signal: null, spawnError: error }));
    });
    void child.catch(() => {}); // execa's own promise: the 'exit' above tells us all we need
    let previousStderrLevel: LogLevel | undefined;
    const streams = [
      this.consume(child.stdout, (line, now) => parseStdoutLine(line, now)),
      this.consume(child.stderr, (line, now) => {
        this.stderrTail.push(line.text.slice(0, 1000));
        if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
        const event = parseStderrLine(line, now, previousStderrLevel);
        previousStderrLevel = event?.level ?? previousStderrLevel;
        return event;
      }),
    ];
    this.pid = child.pid;
    if (child.pid !== undefined) this.deps.reaper?.watch(child.pid);
    const timer = timeoutSeconds > 0 ? setTimeout(() => this.stop('timeout'), timeoutSeconds * 1000) : undefined;

    let failure: Error | undefined;
    try {
      if (child.pid !== undefined) {
        await updateRun(this.deps.db, this.run.id, { pid: child.pid });
        // A stop requested before the pid was known.
        if (this.stopReason) void terminateProcessGroup(child.pid, config.cancelGraceMs);
      }
    } catch (error) {
      // Without its pid on record the run could not be reaped after a crash: do not let it run.
      failure = error as Error;
      if (child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
    }

    // The direct child's exit ends the run; leftovers of its group are then killed so that a
    // grandchild holding the pipes cannot keep it "alive" (STACK.md pitfall 3).
    const exit = await exited;
    // What stopped it is settled now; a cancel or shutdown arriving later changes nothing.
    const stopReason = this.stopReason;
    clearTimeout(timer);
    if (child.pid !== undefined) {
      signalProcessGroup(child.pid, 'SIGKILL');
      this.deps.reaper?.forget(child.pid);
    }
    // Pipes close once every holder is dead; only a process that left the group could keep them.
    const drained = await Promise.race([
      Promise.all(streams).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
    ]);
    if (!drained) {
      log.warn({ runId: this.run.id }, 'output pipes still open 10 s after exit; ignoring the rest');
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    // Nothing may be stored after the terminal status event.
    await this.writer.close();
    if (stopReason === 'fenced' || this.writer.fenced) {
      log.warn({ runId: this.run.id, exit }, 'run was taken over by another instance; its process is stopped');
      return;
    }

    const outcome = failure ? this.runnerFailure(failure) : this.outcome(exit, stopReason);
    const eventsLost = this.writer.eventsLost;
    if (eventsLost > 0) {
      outcome.details = {
        ...outcome.details,
        eventsLost,
        message: `${outcome.details.message ?? outcome.status} (${eventsLost} output event(s) lost: the database was unreachable for longer than ${Math.round(config.eventOutageLimitMs / 1000)} s)`,
      };
    }
    log.info({ runId: this.run.id, strategy: this.run.strategy, status: outcome.status, exit, eventsLost }, 'run finished');
    await this.finish(outcome.status, outcome.details);
  }

  private runnerFailure(error: Error): { status: 'FAILED'; details: TransitionDetails } {
    this.deps.log.error({ err: error, runId: this.run.id }, 'could not record the run’s process; stopped it');
    const message = 'The runner could not record the process (database unavailable); the run was stopped';
    return { status: 'FAILED', details: { message, exitCode: null, error: { code: 'RUNNER_ERROR', message } } };
  }

  private outcome(
    exit: Exit,
    stopReason: Exclude<StopReason, 'fenced'> | undefined,
  ): { status: 'COMPLETED' | 'FAILED' | 'CANCELLED'; details: TransitionDetails } {
    const stderrTail = [...this.stderrTail];
    if (stopReason === 'cancel') return { status: 'CANCELLED', details: { message: 'Cancelled', exitCode: exit.code } };
    if (stopReason === 'timeout') {
      const message = `Timed out after ${this.run.timeoutSeconds} s`;
      return { status: 'FAILED', details: { message, exitCode: exit.code, error: { code: 'TIMEOUT', message, stderrTail } } };
    }
    if (stopReason === 'shutdown') {
      const message = 'Interrupted: the server shut down while the run was in progress';
      return { status: 'FAILED', details: { message, exitCode: exit.code, error: { code: 'INTERRUPTED', message, stderrTail } } };
    }
    if (exit.spawnError) {
      const message = `Could not start \`${this.launch.command.join(' ')}\`: ${exit.spawnError.message}`;
      return { status: 'FAILED', details: { message, exitCode: null, error: { code: 'SPAWN_FAILED', message, stderrTail } } };
    }
    if (exit.code === 0) return { status: 'COMPLETED', details: { message: 'Completed', exitCode: 0 } };
    const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
    const last = stderrTail.at(-1);
    const message = `The strategy ${how}${last ? `: ${last}` : ''}`;
    return { status: 'FAILED', details: { message, exitCode: exit.code, error: { code: 'EXIT_CODE', message, stderrTail } } };
  }

  private async finish(status: 'COMPLETED' | 'FAILED' | 'CANCELLED', details: TransitionDetails): Promise<void> {
    // The final status is what every client waits for: a database outage must not lose it. Keep
    // trying for as long as events would be held; after that recovery ends the run INTERRUPTED.
    const deadline = Date.now() + Math.max(this.deps.config.eventOutageLimitMs, 30_000);
    for (let attempt = 1; ; attempt++) {
      try {
        // A cancel moved the run to CANCELLING first; everything else finishes from RUNNING.
        const transition = await transitionRun(this.deps, this.run.id, status, details);
        if (!transition && status !== 'CANCELLED') {
          // Cancelled while it was exiting on its own: the user's cancel wins.
          await transitionRun(this.deps, this.run.id, 'CANCELLED', { message: 'Cancelled', exitCode: details.exitCode ?? null });
        }
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error; // recovery will end it INTERRUPTED
        if (attempt === 1) this.deps.log.warn({ err: error, runId: this.run.id }, 'storing the final status failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
      }
    }
  }

  /** Reads a stream line by line into the writer, pausing it while the writer is backed up. */
  private consume(
    stream: NodeJS.ReadableStream | null,
    toEvent: (line: { text: string; truncated: boolean }, now: Date) => EventDraft | undefined,
  ): Promise<void> {
    if (!stream) return Promise.resolve();
    const splitter = new LineSplitter(this.deps.config.maxLineBytes);
    const accept = (line: { text: string; truncated: boolean }): boolean => {
      const receivedAt = performance.now();
      const now = new Date();
      const event = toEvent(line, now);
      // The line's length stands for the event's size (the JSON around it is small and bounded).
      return event ? this.writer.push(this.metrics.enrich(event, now.getTime()), line.text.length + 256, receivedAt) : true;
    };
    return new Promise((resolve) => {
      stream.on('data', (chunk: Buffer) => {
        let ok = true;
        for (const line of splitter.push(chunk)) ok = accept(line) && ok;
        if (!ok) {
          stream.pause();
          void this.writer.flush();
          void this.writer.drained().then(() => stream.resume());
        }
      });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        const last = splitter.end();
        if (last) accept(last);
        resolve();
      };
      stream.once('end', end);
      stream.once('close', end);
      stream.once('error', end);
    });
  }
}
