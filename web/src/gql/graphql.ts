/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ExecuteStrategyInput = {
  /** Retry safely: within 24 h the same key (from the same caller) returns the run it first started and queues nothing; the same key with other parameters is a CONFLICT. */
  idempotencyKey?: string | null | undefined;
  /** Checked against the strategy’s parametersSchema. */
  parameters?: unknown;
  strategy: string;
};

/** viewer: read and subscribe · operator: also start runs and cancel its own · admin: everything. */
export type Role =
  | 'ADMIN'
  | 'OPERATOR'
  | 'VIEWER';

export type RunEventType =
  | 'ERROR'
  | 'LOG'
  | 'PROGRESS'
  | 'RESULT'
  | 'STATUS';

export type RunStatus =
  | 'CANCELLED'
  | 'CANCELLING'
  | 'COMPLETED'
  | 'FAILED'
  | 'QUEUED'
  | 'RUNNING';

export type RunSummaryFragment = { id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string } | null };

export type RunDetailFragment = { parameters: unknown, exitCode: number | null, result: unknown, timeoutSeconds: number | null, id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string, stderrTail: Array<string> } | null };

export type RunEventFieldsFragment = { seq: number, eventType: RunEventType, timestamp: string, stage: string | null, progressPercent: number | null, currentItem: string | null, totalItems: number | null, completedItems: number | null, message: string | null, metrics: unknown, status: RunStatus | null, level: string | null, data: unknown, exitCode: number | null, error: { code: string, message: string, stderrTail: Array<string> } | null };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { name: string | null, role: Role, auth: string } };

export type StrategiesQueryVariables = Exact<{ [key: string]: never; }>;


export type StrategiesQuery = { strategies: Array<{ name: string, description: string, parametersSchema: unknown, timeoutSeconds: number | null }> };

export type RunDetailQueryVariables = Exact<{
  id: string | number;
}>;


export type RunDetailQuery = { run: { parameters: unknown, exitCode: number | null, result: unknown, timeoutSeconds: number | null, id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string, stderrTail: Array<string> } | null } | null };

export type RunParametersQueryVariables = Exact<{
  id: string | number;
}>;


export type RunParametersQuery = { run: { id: string, strategy: string, parameters: unknown } | null };

export type RunsQueryVariables = Exact<{
  status?: Array<RunStatus> | RunStatus | null | undefined;
  strategy?: string | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type RunsQuery = { runs: { nodes: Array<{ id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string } | null }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type RunEventsPageQueryVariables = Exact<{
  id: string | number;
  afterSeq?: number | null | undefined;
  first?: number | null | undefined;
}>;


export type RunEventsPageQuery = { run: { id: string, events: Array<{ seq: number, eventType: RunEventType, timestamp: string, stage: string | null, progressPercent: number | null, currentItem: string | null, totalItems: number | null, completedItems: number | null, message: string | null, metrics: unknown, status: RunStatus | null, level: string | null, data: unknown, exitCode: number | null, error: { code: string, message: string, stderrTail: Array<string> } | null }> } | null };

export type ExecuteMutationVariables = Exact<{
  input: ExecuteStrategyInput;
}>;


export type ExecuteMutation = { executeStrategy: { id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string } | null } };

export type CancelMutationVariables = Exact<{
  id: string | number;
}>;


export type CancelMutation = { cancelRun: { id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string } | null } };

export type WatchRunEventsSubscriptionVariables = Exact<{
  runId: string | number;
  afterSeq?: number | null | undefined;
}>;


export type WatchRunEventsSubscription = { runEvents: { seq: number, eventType: RunEventType, timestamp: string, stage: string | null, progressPercent: number | null, currentItem: string | null, totalItems: number | null, completedItems: number | null, message: string | null, metrics: unknown, status: RunStatus | null, level: string | null, data: unknown, exitCode: number | null, error: { code: string, message: string, stderrTail: Array<string> } | null } };

export type WatchRunsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type WatchRunsSubscription = { runUpdated: { id: string, number: number, strategy: string, status: RunStatus, progressPercent: number | null, stage: string | null, message: string | null, createdAt: string, startedAt: string | null, finishedAt: string | null, queuePosition: number | null, waitReason: string | null, lastSeq: number, startedBy: string | null, error: { code: string, message: string } | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const RunSummaryFragmentDoc = new TypedDocumentString(`
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}
    `, {"fragmentName":"RunSummary"}) as unknown as TypedDocumentString<RunSummaryFragment, unknown>;
export const RunDetailFragmentDoc = new TypedDocumentString(`
    fragment RunDetail on Run {
  ...RunSummary
  parameters
  exitCode
  result
  timeoutSeconds
  error {
    code
    message
    stderrTail
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}`, {"fragmentName":"RunDetail"}) as unknown as TypedDocumentString<RunDetailFragment, unknown>;
export const RunEventFieldsFragmentDoc = new TypedDocumentString(`
    fragment RunEventFields on RunEvent {
  seq
  eventType
  timestamp
  stage
  progressPercent
  currentItem
  totalItems
  completedItems
  message
  metrics
  status
  level
  data
  exitCode
  error {
    code
    message
    stderrTail
  }
}
    `, {"fragmentName":"RunEventFields"}) as unknown as TypedDocumentString<RunEventFieldsFragment, unknown>;
export const ViewerDocument = new TypedDocumentString(`
    query Viewer {
  viewer {
    name
    role
    auth
  }
}
    `) as unknown as TypedDocumentString<ViewerQuery, ViewerQueryVariables>;
export const StrategiesDocument = new TypedDocumentString(`
    query Strategies {
  strategies {
    name
    description
    parametersSchema
    timeoutSeconds
  }
}
    `) as unknown as TypedDocumentString<StrategiesQuery, StrategiesQueryVariables>;
export const RunDetailDocument = new TypedDocumentString(`
    query RunDetail($id: ID!) {
  run(id: $id) {
    ...RunDetail
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}
fragment RunDetail on Run {
  ...RunSummary
  parameters
  exitCode
  result
  timeoutSeconds
  error {
    code
    message
    stderrTail
  }
}`) as unknown as TypedDocumentString<RunDetailQuery, RunDetailQueryVariables>;
export const RunParametersDocument = new TypedDocumentString(`
    query RunParameters($id: ID!) {
  run(id: $id) {
    id
    strategy
    parameters
  }
}
    `) as unknown as TypedDocumentString<RunParametersQuery, RunParametersQueryVariables>;
export const RunsDocument = new TypedDocumentString(`
    query Runs($status: [RunStatus!], $strategy: String, $first: Int, $after: String) {
  runs(status: $status, strategy: $strategy, first: $first, after: $after) {
    nodes {
      ...RunSummary
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<RunsQuery, RunsQueryVariables>;
export const RunEventsPageDocument = new TypedDocumentString(`
    query RunEventsPage($id: ID!, $afterSeq: Int, $first: Int) {
  run(id: $id) {
    id
    events(afterSeq: $afterSeq, first: $first) {
      ...RunEventFields
    }
  }
}
    fragment RunEventFields on RunEvent {
  seq
  eventType
  timestamp
  stage
  progressPercent
  currentItem
  totalItems
  completedItems
  message
  metrics
  status
  level
  data
  exitCode
  error {
    code
    message
    stderrTail
  }
}`) as unknown as TypedDocumentString<RunEventsPageQuery, RunEventsPageQueryVariables>;
export const ExecuteDocument = new TypedDocumentString(`
    mutation Execute($input: ExecuteStrategyInput!) {
  executeStrategy(input: $input) {
    ...RunSummary
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<ExecuteMutation, ExecuteMutationVariables>;
export const CancelDocument = new TypedDocumentString(`
    mutation Cancel($id: ID!) {
  cancelRun(id: $id) {
    ...RunSummary
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<CancelMutation, CancelMutationVariables>;
export const WatchRunEventsDocument = new TypedDocumentString(`
    subscription WatchRunEvents($runId: ID!, $afterSeq: Int) {
  runEvents(runId: $runId, afterSeq: $afterSeq) {
    ...RunEventFields
  }
}
    fragment RunEventFields on RunEvent {
  seq
  eventType
  timestamp
  stage
  progressPercent
  currentItem
  totalItems
  completedItems
  message
  metrics
  status
  level
  data
  exitCode
  error {
    code
    message
    stderrTail
  }
}`) as unknown as TypedDocumentString<WatchRunEventsSubscription, WatchRunEventsSubscriptionVariables>;
export const WatchRunsDocument = new TypedDocumentString(`
    subscription WatchRuns {
  runUpdated {
    ...RunSummary
  }
}
    fragment RunSummary on Run {
  id
  number
  strategy
  status
  progressPercent
  stage
  message
  createdAt
  startedAt
  finishedAt
  queuePosition
  waitReason
  lastSeq
  startedBy
  error {
    code
    message
  }
}`) as unknown as TypedDocumentString<WatchRunsSubscription, WatchRunsSubscriptionVariables>;