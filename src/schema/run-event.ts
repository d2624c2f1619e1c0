import type { StoredEvent } from '../db/run-events.js';
import type { RunStatusValue } from '../db/database.js';
import { listEvents, openRunEventStream } from '../resolvers/run-events.js';
import { builder } from './builder.js';
import { guardSubscription, unwrapStreamValue } from './guard-subscription.js';
import { RunErrorType, RunStatus, RunType } from './run.js';

const RunEventType = builder.enumType('RunEventType', {
  values: ['PROGRESS', 'LOG', 'STATUS', 'RESULT', 'ERROR'] as const,
});

const str = (value: unknown) => (typeof value === 'string' ? value : null);
const num = (value: unknown) => (typeof value === 'number' ? value : null);

export const RunEventObject = builder.objectRef<StoredEvent>('RunEvent').implement({
  description: 'One event of a run, in order (`seq` 1, 2, 3, …).',
  fields: (t) => ({
    seq: t.int({ resolve: (e) => e.seq }),
    runId: t.id({ resolve: (e) => e.run_id }),
    eventType: t.field({
      type: RunEventType,
      resolve: (e) => e.event_type.toUpperCase() as 'PROGRESS' | 'LOG' | 'STATUS' | 'RESULT' | 'ERROR',
    }),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.timestamp }),
    stage: t.string({ nullable: true, resolve: (e) => str(e.stage) }),
    progressPercent: t.float({ nullable: true, resolve: (e) => num(e.progress_percent) }),
    currentItem: t.string({ nullable: true, resolve: (e) => str(e.current_item) }),
    totalItems: t.int({ nullable: true, resolve: (e) => num(e.total_items) }),
    completedItems: t.int({ nullable: true, resolve: (e) => num(e.completed_items) }),
    message: t.string({ nullable: true, resolve: (e) => str(e.message) }),
    metrics: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.metrics ?? null }),
    status: t.field({
      type: RunStatus,
      nullable: true,
      resolve: (e) => (typeof e.status === 'string' ? (e.status.toUpperCase() as RunStatusValue) : null),
    }),
    level: t.string({ nullable: true, resolve: (e) => str(e.level) }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.data ?? null }),
    exitCode: t.int({ nullable: true, resolve: (e) => num(e.exit_code) }),
    error: t.field({
      type: RunErrorType,
      nullable: true,
      resolve: (e) => {
        const error = e.error as { code?: string; message?: string } | undefined;
        return error?.code ? { code: error.code, message: error.message ?? error.code, stderrTail: [] } : null;
      },
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
      const stream = await openRunEventStream(ctx, { runId: String(args.runId), afterSeq: args.afterSeq });
      return guardSubscription(stream.events, ctx.log);
    },
    resolve: (value) => unwrapStreamValue(value as StoredEvent),
  }),
);
