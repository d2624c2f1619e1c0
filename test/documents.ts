import { graphql } from './gql/index.js';

/** The operations the tests send, typed by `npm run codegen` (test/gql/). */

export const RunFieldsFragment = graphql(`
  fragment RunFields on Run {
    id status progressPercent stage message exitCode result lastSeq eventsLost
    createdAt startedAt finishedAt queuePosition waitReason startedBy cancelledBy error { code message stderrTail }
  }
`);

export const ExecuteStrategyDocument = graphql(`
  mutation ExecuteStrategy($input: ExecuteStrategyInput!) {
    executeStrategy(input: $input) { ...RunFields }
  }
`);

export const GetRunDocument = graphql(`
  query GetRun($id: ID!) {
    run(id: $id) { ...RunFields }
  }
`);

export const CancelRunDocument = graphql(`
  mutation CancelRun($id: ID!) {
    cancelRun(id: $id) { ...RunFields }
  }
`);

export const RunEventsDocument = graphql(`
  subscription RunEvents($runId: ID!, $afterSeq: Int) {
    runEvents(runId: $runId, afterSeq: $afterSeq) {
      seq eventType timestamp stage progressPercent currentItem totalItems
      completedItems message metrics status level data exitCode error { code message }
    }
  }
`);
