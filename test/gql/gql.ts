/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment RunFields on Run {\n    id status progressPercent stage message exitCode result lastSeq eventsLost\n    createdAt startedAt finishedAt queuePosition waitReason startedBy cancelledBy error { code message stderrTail }\n  }\n": typeof types.RunFieldsFragmentDoc,
    "\n  mutation ExecuteStrategy($input: ExecuteStrategyInput!) {\n    executeStrategy(input: $input) { ...RunFields }\n  }\n": typeof types.ExecuteStrategyDocument,
    "\n  query GetRun($id: ID!) {\n    run(id: $id) { ...RunFields }\n  }\n": typeof types.GetRunDocument,
    "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) { ...RunFields }\n  }\n": typeof types.CancelRunDocument,
    "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq eventType timestamp stage progressPercent currentItem totalItems\n      completedItems message metrics status level data exitCode error { code message }\n    }\n  }\n": typeof types.RunEventsDocument,
};
const documents: Documents = {
    "\n  fragment RunFields on Run {\n    id status progressPercent stage message exitCode result lastSeq eventsLost\n    createdAt startedAt finishedAt queuePosition waitReason startedBy cancelledBy error { code message stderrTail }\n  }\n": types.RunFieldsFragmentDoc,
    "\n  mutation ExecuteStrategy($input: ExecuteStrategyInput!) {\n    executeStrategy(input: $input) { ...RunFields }\n  }\n": types.ExecuteStrategyDocument,
    "\n  query GetRun($id: ID!) {\n    run(id: $id) { ...RunFields }\n  }\n": types.GetRunDocument,
    "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) { ...RunFields }\n  }\n": types.CancelRunDocument,
    "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq eventType timestamp stage progressPercent currentItem totalItems\n      completedItems message metrics status level data exitCode error { code message }\n    }\n  }\n": types.RunEventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment RunFields on Run {\n    id status progressPercent stage message exitCode result lastSeq eventsLost\n    createdAt startedAt finishedAt queuePosition waitReason startedBy cancelledBy error { code message stderrTail }\n  }\n"): (typeof documents)["\n  fragment RunFields on Run {\n    id status progressPercent stage message exitCode result lastSeq eventsLost\n    createdAt startedAt finishedAt queuePosition waitReason startedBy cancelledBy error { code message stderrTail }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ExecuteStrategy($input: ExecuteStrategyInput!) {\n    executeStrategy(input: $input) { ...RunFields }\n  }\n"): (typeof documents)["\n  mutation ExecuteStrategy($input: ExecuteStrategyInput!) {\n    executeStrategy(input: $input) { ...RunFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query GetRun($id: ID!) {\n    run(id: $id) { ...RunFields }\n  }\n"): (typeof documents)["\n  query GetRun($id: ID!) {\n    run(id: $id) { ...RunFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) { ...RunFields }\n  }\n"): (typeof documents)["\n  mutation CancelRun($id: ID!) {\n    cancelRun(id: $id) { ...RunFields }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq eventType timestamp stage progressPercent currentItem totalItems\n      completedItems message metrics status level data exitCode error { code message }\n    }\n  }\n"): (typeof documents)["\n  subscription RunEvents($runId: ID!, $afterSeq: Int) {\n    runEvents(runId: $runId, afterSeq: $afterSeq) {\n      seq eventType timestamp stage progressPercent currentItem totalItems\n      completedItems message metrics status level data exitCode error { code message }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;