import { createHash } from 'node:crypto';
import { claimIdempotencyKey, findIdempotencyKey } from '../db/idempotency-keys.js';
import { findRun, type RunRecord } from '../db/runs.js';
import { BadUserInputError, ConflictError } from '../errors.js';
import type { AppContext } from './context.js';

/**
 * Idempotent execute (CONTRACT §8): within `IDEMPOTENCY_WINDOW_HOURS` the same key from the
 * same caller answers with the run it first started and queues nothing; the same key with
 * another request is a CONFLICT. The key is recorded in the transaction that queues the run
 * and the (caller, key) unique constraint decides between concurrent requests: exactly one
 * run, whichever face and however many requests.
 */

export const IDEMPOTENCY_WINDOW_HOURS = 24;

/** Visible ASCII and spaces, as an HTTP header value carries them. */
const KEY = /^[\x20-\x7e]{1,255}$/;

export interface ExecuteInput {
  readonly strategy: string;
  readonly parameters?: unknown;
  readonly idempotencyKey?: string | null | undefined;
  /** Who asks: the token's name (null when AUTH=off); keys are per caller. */
  readonly caller?: string | null | undefined;
}

export interface ExecuteOutcome {
  readonly run: RunRecord;
  /** True when the key had already started this run: nothing new was queued. */
  readonly replayed: boolean;
}

/** Raised inside the queueing transaction when another request holds the key; rolls it back. */
class KeyTaken extends Error {
  override readonly name = 'KeyTaken';
}

/** @throws NotFoundError, BadUserInputError, ConflictError, ShuttingDownError */
export async function executeRun(ctx: AppContext, input: ExecuteInput, field = 'idempotencyKey'): Promise<ExecuteOutcome> {
  const parameters = input.parameters ?? {};
  const key = input.idempotencyKey;
  const caller = input.caller ?? null;
  if (key === undefined || key === null) return { run: await ctx.runner.submit(input.strategy, parameters, { startedBy: caller }), replayed: false };
  if (!KEY.test(key)) {
    const message = 'must be 1 to 255 visible ASCII characters';
    throw new BadUserInputError(`${field} ${message}`, [{ field, message }]);
  }
  const requestHash = hashRequest(input.strategy, parameters);
  // A lost race ends in the other request's row, found on the next look; a few looks suffice.
  for (let attempt = 0; ; attempt++) {
    const existing = await findIdempotencyKey(ctx.db, caller, key, IDEMPOTENCY_WINDOW_HOURS);
    if (existing) {
      if (existing.requestHash !== requestHash) {
        throw new ConflictError(
          `Idempotency key "${key}" was already used within ${IDEMPOTENCY_WINDOW_HOURS} h for a different request ` +
            `(run ${existing.runId}); the strategy or parameters differ. Use a new key for a new request.`,
        );
      }
      const run = await findRun(ctx.db, existing.runId);
      if (run) return { run, replayed: true };
    }
    try {
      const run = await ctx.runner.submit(input.strategy, parameters, {
        startedBy: caller,
        inTransaction: async (trx, queued) => {
          const claimed = await claimIdempotencyKey(trx, { caller, key, requestHash, runId: queued.id }, IDEMPOTENCY_WINDOW_HOURS);
          if (!claimed) throw new KeyTaken();
        },
      });
      return { run, replayed: false };
    } catch (error) {
      if (!(error instanceof KeyTaken) || attempt >= 5) throw error;
    }
  }
}

/** The request's fingerprint: strategy and parameters, keys sorted (their order means nothing). */
function hashRequest(strategy: string, parameters: unknown): string {
  return createHash('sha256').update(canonicalJson({ strategy, parameters })).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
