import type { RunStatus } from '../model/run-status.js';
import { countActiveRunsByStrategy, findRun, listRuns as listRunRows, queuePosition, type RunRecord } from '../db/runs.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import { requireCancelAllowed, requireRole } from './access.js';
import type { AppContext, RequestContext } from './context.js';
import { executeRun, type ExecuteInput, type ExecuteOutcome } from './idempotent-execute.js';
import { checkParameters, checkText } from './input-checks.js';

/** Runs: starting, cancelling, reading. Shared by the GraphQL schema and the REST routes. */

/**
 * Queues a run as the asking token, or with an idempotency key answers the run the key already
 * started (`replayed`). A replay counts against the rate like any request.
 * @throws ForbiddenError below operator, ResourceExhaustedError past the rate or queue limit,
 *   ConflictError for a key used with another request
 */
export async function startRun(ctx: RequestContext, input: ExecuteInput, keyField = 'input.idempotencyKey'): Promise<ExecuteOutcome> {
  requireRole(ctx.principal, 'operator', 'start runs');
  checkText(input.strategy, 'strategy');
  checkParameters(input.parameters ?? {});
  ctx.executeLimiter.take(ctx.principal.name ?? '');
  return executeRun(ctx, { ...input, caller: ctx.principal.name }, keyField);
}

/** `startRun` for GraphQL, which answers the run either way. */
export async function executeStrategy(ctx: RequestContext, input: ExecuteInput): Promise<RunRecord> {
  return (await startRun(ctx, input)).run;
}

/** @throws NotFoundError, ForbiddenError (an operator cancelling another token's run), ConflictError */
export async function cancelRun(ctx: RequestContext, args: { id: string }): Promise<RunRecord> {
  requireCancelAllowed(ctx.principal, await getRun(ctx, args));
  return ctx.runner.cancel(args.id, ctx.principal.name);
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
}

export const MAX_PAGE_SIZE = 100;

/** Run numbers are PostgreSQL integers: a cursor beyond them is older than nothing. */
const MAX_RUN_NUMBER = 2_147_483_647;

/**
 * Newest first, at most `first` (default 20). `olderThan` is the number of the last run
 * already seen (how both faces page: GraphQL wraps it in a cursor, REST sends it as is).
 */
export async function listRuns(
  ctx: AppContext,
  args: { status?: readonly RunStatus[] | null; strategy?: string | null; first?: number | null; olderThan?: number | null },
): Promise<RunPage> {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`first must be between 1 and ${MAX_PAGE_SIZE}`, [
      { field: 'first', message: `must be between 1 and ${MAX_PAGE_SIZE}` },
    ]);
  }
  if (args.strategy) checkText(args.strategy, 'strategy');
  if ((args.status?.length ?? 0) > 100) throw new BadUserInputError('status: at most 100 entries', [{ field: 'status', message: 'must list at most 100 statuses' }]);
  const olderThan = args.olderThan ?? undefined;
  const rows = await listRunRows(ctx.db, {
    // At most one of each: a long list with repeats says nothing more.
    statuses: args.status?.length ? [...new Set(args.status)] : undefined,
    strategy: args.strategy ?? undefined,
    beforeNumber: olderThan !== undefined && olderThan <= MAX_RUN_NUMBER ? olderThan : undefined,
    limit: first + 1,
  });
  const runs = rows.slice(0, first);
  return { runs, hasNextPage: rows.length > first };
}

/** GraphQL's opaque cursor for a run. */
export function encodeCursor(run: Pick<RunRecord, 'number'>): string {
  return Buffer.from(`run:${run.number}`).toString('base64url');
}

/** @throws BadUserInputError naming `field` when the cursor is not one of ours */
export function decodeCursor(cursor: string, field = 'after'): number {
  const match = /^run:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new BadUserInputError(`${field} is not a cursor returned by this API`, [{ field, message: 'unknown cursor' }]);
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
