// runEvents subscribers with the same selection share one execution per live event
// (src/http/graphql/use-shared-subscription-execution.ts), and every subscriber still gets
// exactly the stored events in its own selection: no cross-talk between selections, directive
// variables or aliases, whichever graphql-sse mode they use.
import { isObjectType, type GraphQLFieldResolver } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { schema } from '../src/http/graphql/schema/index.js';
import { collectSubscription, gql, sseClient, waitFor } from './helpers/graphql.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  // One run at a time: the watched run waits in the queue while everybody subscribes.
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '1', SSE_MAX_STREAMS_PER_RUN: '500' });
});
afterAll(() => server.close());

/** Counts, per event seq, how often RunEvent.seq is resolved: once per execution of an event. */
function countSeqResolutions(): Map<number, number> {
  const type = schema.getType('RunEvent');
  if (!isObjectType(type)) throw new Error('RunEvent is not an object type');
  const field = type.getFields().seq!;
  const original = field.resolve as GraphQLFieldResolver<{ seq: number }, unknown>;
  const calls = new Map<number, number>();
  field.resolve = (source: { seq: number }, ...rest) => {
    calls.set(source.seq, (calls.get(source.seq) ?? 0) + 1);
    return original(source, ...rest);
  };
  onTestFinished(() => void (field.resolve = original));
  return calls;
}

interface Group {
  readonly name: string;
  readonly query: string;
  readonly variables: (runId: string) => Record<string, unknown>;
  readonly clients: number;
  readonly mode: 'distinct' | 'single';
  /** The stored event as this selection must show it. */
  readonly expect: (event: StoredEvent) => Record<string, unknown>;
}

interface StoredEvent {
  seq: number;
  eventType: string;
  progressPercent: number | null;
  message: string | null;
  status: string | null;
}

const SAME = 'subscription Watch($runId: ID!) { runEvents(runId: $runId) { seq eventType progressPercent } }';
const groups: Group[] = [
  { name: 'same selection', query: SAME, variables: (runId) => ({ runId }), clients: 50, mode: 'distinct', expect: ({ seq, eventType, progressPercent }) => ({ seq, eventType, progressPercent }) },
  {
    // Other root arguments and variables, the same selection: shares with the 50.
    name: 'same selection, with afterSeq, single connection',
    query: 'subscription Watch($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq eventType progressPercent } }',
    variables: (runId) => ({ runId, afterSeq: 0 }),
    clients: 3,
    mode: 'single',
    expect: ({ seq, eventType, progressPercent }) => ({ seq, eventType, progressPercent }),
  },
  { name: 'other fields', query: 'subscription Watch($runId: ID!) { runEvents(runId: $runId) { seq message status } }', variables: (runId) => ({ runId }), clients: 2, mode: 'distinct', expect: ({ seq, message, status }) => ({ seq, message, status }) },
  {
    name: '@include true',
    query: 'subscription Watch($runId: ID!, $withType: Boolean!) { runEvents(runId: $runId) { seq eventType @include(if: $withType) } }',
    variables: (runId) => ({ runId, withType: true }),
    clients: 2,
    mode: 'distinct',
    expect: ({ seq, eventType }) => ({ seq, eventType }),
  },
  {
    name: '@include false',
    query: 'subscription Watch($runId: ID!, $withType: Boolean!) { runEvents(runId: $runId) { seq eventType @include(if: $withType) } }',
    variables: (runId) => ({ runId, withType: false }),
    clients: 2,
    mode: 'single',
    expect: ({ seq }) => ({ seq }),
  },
  {
    name: 'aliased',
    query: 'subscription Watch($runId: ID!) { runEvents(runId: $runId) { n: seq eventType progressPercent } }',
    variables: (runId) => ({ runId }),
    clients: 1,
    mode: 'distinct',
    expect: ({ seq, eventType, progressPercent }) => ({ n: seq, eventType, progressPercent }),
  },
];
/** Distinct (selection, variables that matter) among the groups: the first two share. */
const SHARED_EXECUTIONS = groups.length - 1;

describe('runEvents subscribers with the same selection', () => {
  it('share one execution per live event, and each gets exactly the stored events in its own selection', async () => {
    const blocker = await execute(server.url, 'fixture_steps', { steps: 1, delay_ms: 60_000 });
    await waitForStatus(server.url, blocker.id, ['RUNNING']);
    const run = await execute(server.url, 'fixture_steps', { steps: 40, delay_ms: 5 });
    expect(run.status).toBe('QUEUED');
    const calls = countSeqResolutions();

    const clients = { distinct: sseClient(server.url, 'distinct'), single: sseClient(server.url, 'single') };
    onTestFinished(() => {
      clients.distinct.dispose();
      clients.single.dispose();
    });
    let started = 0;
    const subscriptions = groups.flatMap((group) =>
      Array.from({ length: group.clients }, async () => {
        let first = true;
        const payloads = await collectSubscription<{ runEvents: Record<string, unknown> }>(clients[group.mode], group.query, group.variables(run.id), () => {
          if (first) started += 1;
          first = false;
        });
        return { group, payloads };
      }),
    );
    const subscribers = subscriptions.length;
    // Everyone has read the stored history (the queued event) and waits for live events.
    await waitFor(() => (started === subscribers ? true : undefined), 30_000, 'every subscriber to get the queued event');
    // The queued event came from storage: one object per stream, so one execution per subscriber.
    expect(calls.get(1)).toBe(subscribers);

    await gql(server.url, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id: blocker.id });
    const results = await Promise.all(subscriptions);
    const done = await waitForStatus(server.url, run.id, ['COMPLETED']);

    // Every live event (2…last) executed once per distinct selection, not once per subscriber.
    const live = Array.from({ length: done.lastSeq - 1 }, (_, i) => i + 2);
    expect(live.length).toBeGreaterThanOrEqual(43); // running, 40 steps, result, completed
    expect(live.map((seq) => [seq, calls.get(seq)])).toEqual(live.map((seq) => [seq, SHARED_EXECUTIONS]));

    const reference = await gql<{ run: { events: StoredEvent[] } }>(
      server.url,
      'query($id: ID!) { run(id: $id) { events(first: 5000) { seq eventType progressPercent message status } } }',
      { id: run.id },
    );
    const stored = reference.data!.run.events;
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: done.lastSeq }, (_, i) => i + 1));
    expect(stored.at(-1)).toMatchObject({ eventType: 'STATUS', status: 'COMPLETED' });
    for (const { group, payloads } of results) {
      expect(payloads.filter((p) => p.errors), group.name).toEqual([]);
      expect(payloads.map((p) => p.data!.runEvents), group.name).toEqual(stored.map(group.expect));
    }
  }, 120_000);
});
