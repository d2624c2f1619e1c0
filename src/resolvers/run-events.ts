import { listRunEvents } from '../db/run-events.js';
import { findRun, type RunRecord } from '../db/runs.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import { busMessages, openRunEventStream, type RunEventStream } from '../events/run-event-stream.js';
import type { RunEvent } from '../model/run-event.js';
import type { AppContext } from './context.js';

/** A run's events and the runs' status changes, for both faces. */

/** Every event after `afterSeq`, from storage, then live (see src/events). @throws NotFoundError, BadUserInputError */
export function watchRunEvents(
  ctx: AppContext,
  args: { runId: string; afterSeq?: number | null },
  signal?: AbortSignal,
): Promise<RunEventStream> {
  return openRunEventStream(ctx, args, signal);
}

/** Every status change of every run, from now on. */
export function watchRunUpdates(ctx: AppContext, signal?: AbortSignal): AsyncGenerator<RunRecord, void, undefined> {
  return busMessages(ctx, 'runUpdated', signal);
}

export const MAX_EVENTS_PAGE = 5000;

/** Stored events with `seq > afterSeq`, oldest first (a page of history, no live part). */
export async function listEvents(
  ctx: AppContext,
  args: { runId: string; afterSeq?: number | null; first?: number | null },
): Promise<RunEvent[]> {
  const first = args.first ?? 500;
  if (!Number.isInteger(first) || first < 1 || first > MAX_EVENTS_PAGE) {
    throw new BadUserInputError(`first must be between 1 and ${MAX_EVENTS_PAGE}`, [
      { field: 'first', message: `must be between 1 and ${MAX_EVENTS_PAGE}` },
    ]);
  }
  return listRunEvents(ctx.db, args.runId, Math.max(0, args.afterSeq ?? 0), first);
}

/** Like `listEvents`, for a run that must exist. @throws NotFoundError */
export async function listRunEventsOf(
  ctx: AppContext,
  args: { runId: string; afterSeq?: number | null; first?: number | null },
): Promise<RunEvent[]> {
  if (!(await findRun(ctx.db, args.runId))) throw new NotFoundError(`No run with id "${args.runId}"`);
  return listEvents(ctx, args);
}
