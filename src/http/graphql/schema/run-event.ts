import { EVENT_TYPES, type RunEvent } from '../../../model/run-event.js';
import { fromWireStatus } from '../../../model/run-status.js';
import { listEvents, watchRunEvents } from '../../../resolvers/run-events.js';
import { guardSubscription, unwrapStreamValue } from '../guard-subscription.js';
import { builder } from './builder.js';
import { RunErrorType, RunStatus, RunType } from './run.js';

const upper = <T extends string>(value: T) => value.toUpperCase() as Uppercase<T>;

const RunEventType = builder.enumType('RunEventType', { values: EVENT_TYPES.map(upper) });

/** A field that status events never carry. */
const scriptField = <K extends 'stage' | 'progress_percent' | 'current_item' | 'total_items' | 'completed_items' | 'message' | 'metrics'>(
  e: RunEvent,
  key: K,
) => (e.event_type === 'status' ? null : (e[key] ?? null));

export const RunEventObject = builder.objectRef<RunEvent>('RunEvent').implement({
  description: 'One event of a run, in order (`seq` 1, 2, 3, …).',
  fields: (t) => ({
    seq: t.int({ resolve: (e) => e.seq }),
    runId: t.id({ resolve: (e) => e.run_id }),
    eventType: t.field({ type: RunEventType, resolve: (e) => upper(e.event_type) }),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.timestamp }),
    stage: t.string({ nullable: true, resolve: (e) => scriptField(e, 'stage') }),
    progressPercent: t.float({ nullable: true, resolve: (e) => scriptField(e, 'progress_percent') }),
    currentItem: t.string({ nullable: true, resolve: (e) => scriptField(e, 'current_item') }),
    totalItems: t.int({ nullable: true, resolve: (e) => scriptField(e, 'total_items') }),
    completedItems: t.int({ nullable: true, resolve: (e) => scriptField(e, 'completed_items') }),
    message: t.string({ nullable: true, resolve: (e) => e.message ?? null }),
    metrics: t.field({ type: 'JSON', nullable: true, resolve: (e) => scriptField(e, 'metrics') }),
    status: t.field({
      type: RunStatus,
      nullable: true,
      resolve: (e) => (e.event_type === 'status' ? fromWireStatus(e.status) : null),
    }),
    level: t.string({ nullable: true, resolve: (e) => (e.event_type === 'log' || e.event_type === 'error' ? e.level : null) }),
    data: t.field({
      type: 'JSON',
      nullable: true,
      resolve: (e) => (e.event_type === 'result' || e.event_type === 'error' ? (e.data ?? null) : null),
    }),
    exitCode: t.int({ nullable: true, resolve: (e) => (e.event_type === 'status' ? (e.exit_code ?? null) : null) }),
    error: t.field({
      type: RunErrorType,
      nullable: true,
      resolve: (e) => (e.event_type === 'status' && e.error ? { ...e.error, stderrTail: [] } : null),
    }),
  }),
});

builder.objectField(RunType, 'events', (t) =>
  t.field({
    type: [RunEventObject],
    description: 'Stored events with seq > afterSeq, oldest first (at most `first`, default 500).',
    args: { afterSeq: t.arg.int(), first: t.arg.int() },
    resolve: (run, args, ctx) => listEvents(ctx, { runId: run.id, afterSeq: args.afterSeq, first: args.first }),
  }),
);

builder.subscriptionField('runEvents', (t) =>
  t.field({
    type: RunEventObject,
    description:
      'Every event of the run with seq > afterSeq, oldest first, from storage, then live; completes after the terminal status event.',
    args: { runId: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: async (_root, args, ctx) => {
      const stream = await watchRunEvents(ctx, { runId: String(args.runId), afterSeq: args.afterSeq });
      return guardSubscription(stream.events, ctx.log, ctx.metrics);
    },
    resolve: (value) => unwrapStreamValue(value),
  }),
);
