import type { RunErrorRecord, RunRecord } from '../../../db/runs.js';
import { RUN_STATUSES } from '../../../model/run-status.js';
import { watchRunUpdates } from '../../../resolvers/run-events.js';
import {
  cancelRun,
  decodeCursor,
  encodeCursor,
  executeStrategy,
  findRunById,
  listRuns,
  queueInfo,
  type RunPage,
} from '../../../resolvers/runs.js';
import { builder } from './builder.js';
import { guardSubscription, unwrapStreamValue } from '../guard-subscription.js';

export const RunStatus = builder.enumType('RunStatus', {
  values: RUN_STATUSES,
});

export const RunErrorType = builder.objectRef<RunErrorRecord>('RunError').implement({
  description: 'Why a run failed. Codes: EXIT_CODE, TIMEOUT, INTERRUPTED, SPAWN_FAILED, RUNNER_ERROR.',
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    stderrTail: t.stringList({ description: 'Last lines the script wrote on stderr.', resolve: (e) => [...e.stderrTail] }),
  }),
});

export const RunType = builder.objectRef<RunRecord>('Run').implement({
  description: 'One execution of a strategy.',
  fields: (t) => ({
    id: t.exposeID('id'),
    number: t.exposeInt('number', { description: 'Order in which runs were queued.' }),
    strategy: t.exposeString('strategy'),
    parameters: t.field({ type: 'JSON', description: 'Validated parameters, defaults applied.', resolve: (r) => r.parameters }),
    status: t.field({ type: RunStatus, resolve: (r) => r.status }),
    progressPercent: t.float({ nullable: true, resolve: (r) => r.progressPercent }),
    stage: t.string({ nullable: true, resolve: (r) => r.stage }),
    message: t.string({ nullable: true, resolve: (r) => r.message }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.finishedAt }),
    exitCode: t.int({ nullable: true, resolve: (r) => r.exitCode }),
    result: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.result ?? null }),
    error: t.field({ type: RunErrorType, nullable: true, resolve: (r) => r.error }),
    timeoutSeconds: t.int({ nullable: true, resolve: (r) => r.timeoutSeconds }),
    lastSeq: t.exposeInt('lastSeq', { description: 'seq of the newest stored event.' }),
    startedBy: t.exposeString('startedBy', { nullable: true, description: 'Name of the token that started the run (null when AUTH=off).' }),
    cancelledBy: t.exposeString('cancelledBy', { nullable: true, description: 'Name of the token that cancelled it, if any.' }),
    eventsLost: t.exposeInt('eventsLost', {
      description: 'Output events lost to a database outage longer than EVENT_OUTAGE_LIMIT_MS (0 nearly always).',
    }),
    queuePosition: t.int({
      nullable: true,
      description: 'Place in the queue while QUEUED (1 = next to start).',
      resolve: async (r, _args, ctx) => (await queueInfo(ctx, r)).position,
    }),
    waitReason: t.string({
      nullable: true,
      description: 'Why a queued run has not started yet.',
      resolve: async (r, _args, ctx) => (await queueInfo(ctx, r)).waitReason,
    }),
  }),
});

const PageInfo = builder.objectRef<RunPage>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.string({ nullable: true, resolve: (p) => (p.runs.length ? encodeCursor(p.runs.at(-1)!) : null) }),
  }),
});

const RunEdge = builder.objectRef<RunRecord>('RunEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: (r) => encodeCursor(r) }),
    node: t.field({ type: RunType, resolve: (r) => r }),
  }),
});

const RunConnection = builder.objectRef<RunPage>('RunConnection').implement({
  description: 'Runs, newest first.',
  fields: (t) => ({
    edges: t.field({ type: [RunEdge], resolve: (p) => p.runs }),
    nodes: t.field({ type: [RunType], resolve: (p) => p.runs }),
    pageInfo: t.field({ type: PageInfo, resolve: (p) => p }),
  }),
});

builder.queryFields((t) => ({
  run: t.field({
    type: RunType,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => findRunById(ctx, { id: String(args.id) }),
  }),
  runs: t.field({
    type: RunConnection,
    args: {
      status: t.arg({ type: [RunStatus] }),
      strategy: t.arg.string(),
      first: t.arg.int({ description: 'At most 100. Default 20.' }),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) =>
      listRuns(ctx, { status: args.status, strategy: args.strategy, first: args.first, olderThan: args.after ? decodeCursor(args.after) : null }),
  }),
}));

const ExecuteStrategyInput = builder.inputType('ExecuteStrategyInput', {
  fields: (t) => ({
    strategy: t.string({ required: true }),
    parameters: t.field({ type: 'JSON', description: 'Checked against the strategy’s parametersSchema.' }),
    idempotencyKey: t.string({
      description:
        'Retry safely: within 24 h the same key (from the same caller) returns the run it first started and queues nothing; the same key with other parameters is a CONFLICT.',
    }),
  }),
});

builder.mutationFields((t) => ({
  executeStrategy: t.field({
    type: RunType,
    description: 'Validates the parameters and queues a run.',
    args: { input: t.arg({ type: ExecuteStrategyInput, required: true }) },
    resolve: (_root, { input }, ctx) => executeStrategy(ctx, input),
  }),
  cancelRun: t.field({
    type: RunType,
    description: 'Cancels a queued or running run. CONFLICT if it has already finished.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => cancelRun(ctx, { id: String(args.id) }),
  }),
}));

builder.subscriptionField('runUpdated', (t) =>
  t.field({
    type: RunType,
    description: 'Every status change of every run.',
    subscribe: (_root, _args, ctx) => guardSubscription(watchRunUpdates(ctx), ctx.log, ctx.metrics),
    resolve: (value) => unwrapStreamValue(value),
  }),
);
