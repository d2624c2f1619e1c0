import { useEffect, useState } from 'react';
import type { GraphQLRequestError } from '../api/graphql-client.js';
import { subscribeResumable, type ConnectionState } from '../api/subscriptions.js';
import { WatchRunEventsDocument } from '../gql/graphql.js';
import { RunEventStore } from './run-event-store.js';

/**
 * A run's events for the page's lifetime: one store, fed by `runEvents` from seq 0 (the server
 * replays history from storage, then goes live). On a reconnect the subscription is re-run
 * with `afterSeq` = the last seq the store holds, so nothing is missing and nothing repeats.
 */
export function useRunEvents(runId: string): {
  store: RunEventStore;
  connection: ConnectionState;
  error: GraphQLRequestError | undefined;
} {
  const [store] = useState(() => new RunEventStore(runId));
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [error, setError] = useState<GraphQLRequestError>();

  useEffect(() => {
    const stop = subscribeResumable(WatchRunEventsDocument, () => ({ runId, afterSeq: store.resumeAfter }), {
      next: (data) => store.push(data.runEvents),
      state: setConnection,
      error: setError,
      complete: () => store.flush(),
    });
    return () => {
      stop();
      store.dispose();
    };
  }, [runId, store]);

  return { store, connection, error };
}
