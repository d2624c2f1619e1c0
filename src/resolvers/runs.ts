import type { RunStatus } from '../model/run-status.js';
import { countActiveRunsByStrategy, findRun, listRuns as listRunRows, queuePosition, type RunRecord } from '../db/runs.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import type { AppContext } from './context.js';

/** Runs: starting, cancelling, reading. Shared by the GraphQL schema and the REST routes. */

export function executeStrategy(
  ctx: AppContext,
  input: { strategy: string; parameters?: unknown },
): Promise<RunRecord> {
  return ctx.runner.submit(input.strategy, input.parameters ?? {});
}

export function cancelRun(ctx: AppContext, args: { id: string }): Promise<RunRecord> {
  return ctx.runner.cancel(args.id);
}

export async function findRunById(ctx: AppContext, args: { id: string }): Promise<RunRecord | null> {
  return (await findRun(ctx.db, args.id)) ?? null;
}

/** @throws NotFoundError */
export async function getRun(ctx: AppContext, args: { id: string }): Promise<RunRecord> {
  const run = await findRun(ctx.db, args.id);
  if (!run) throw new NotFoundError(`No run with id "${args.id}"`);
  return run;
}

export interface RunPage {
  readonly runs: RunRecord[];
  readonly hasNextPage: boolean;
  /** Cursor of the last run in the page. */
  readonly endCursor: string | null;
}

export const MAX_PAGE_SIZE = 100;

/** Newest first; `after` is the cursor of the last run already seen. */
export async function listRuns(
  ctx: AppContext,
  args: { status?: readonly RunStatus[] | null; strategy?: string | null; first?: number | null; after?: string | null },
): Promise<RunPage> {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`first must be between 1 and ${MAX_PAGE_SIZE}`, [
      { field: 'first', message: `must be between 1 and ${MAX_PAGE_SIZE}` },
    ]);
  }
  const beforeNumber = args.after ? decodeCursor(args.after) : undefined;
  const rows = await listRunRows(ctx.db, {
    statuses: args.status ?? undefined,
    strategy: args.strategy ?? undefined,
    beforeNumber,
    limit: first + 1,
  });
  const runs = rows.slice(0, first);
  return { runs, hasNextPage: rows.length > first, endCursor: runs.length ? encodeCursor(runs.at(-1)!) : null };
}

export function encodeCursor(run: Pick<RunRecord, 'number'>): string {
  return Buffer.from(`run:${run.number}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^run:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new BadUserInputError('after is not a cursor returned by this API', [{ field: 'after', message: 'unknown cursor' }]);
  return Number(match[1]);
}

export interface QueueInfo {
  /** 1 = next to start; null once the run has left the queue. */
  readonly position: number | null;
  /** Why it has not started yet. */
  readonly waitReason: string | null;
}

export async function queueInfo(ctx: AppContext, run: RunRecord): Promise<QueueInfo> {
  if (run.status !== 'QUEUED') return { position: null, waitReason: null };
  const position = await queuePosition(ctx.db, run);
  // Claimed since this record was read.
  if (position < 1) return { position: null, waitReason: null };
  return {
    position,
    waitReason: !ctx.runner.registry.has(run.strategy)
      ? `Strategy "${run.strategy}" is not registered on this server; it starts on an instance that has it (or cancel it)`
      : run.waitReason ??
      (await sharedLimitReason(ctx, run.strategy)) ??
      (position === 1
        ? `Waiting for a free slot (at most ${ctx.config.maxConcurrentRuns} runs at once)`
        : `Waiting behind ${position - 1} queued run${position === 2 ? '' : 's'}`),
  };
}

/**
 * A queued run held back by a limit shared by every instance (the strategy's `max_concurrent`,
 * or MAX_CONCURRENT_RUNS_TOTAL), said as it is now; null when neither holds it.
 */
async function sharedLimitReason(ctx: AppContext, strategyName: string): Promise<string | null> {
  const limit = ctx.runner.registry.get(strategyName).maxConcurrent;
  const total = ctx.config.maxConcurrentRunsTotal;
  if (limit === undefined && total === 0) return null;
  const active = await countActiveRunsByStrategy(ctx.db);
  if (limit !== undefined && (active.get(strategyName) ?? 0) >= limit) {
    return `Waiting for a slot of "${strategyName}": at most ${limit} of its runs at once across all instances (max_concurrent)`;
  }
  let running = 0;
  for (const count of active.values()) running += count;
  if (total > 0 && running >= total) {
    return `Waiting for a free slot: ${running} runs are running across all instances (MAX_CONCURRENT_RUNS_TOTAL=${total})`;
  }
  return null;
}
