import type { RunEvent } from '../model/run-event.js';
import type { EventBus } from '../pubsub/event-bus.js';

/**
 * The live fan-out of one instance: one bus subscription per watched run, shared by every
 * stream of that run (REST SSE and GraphQL alike), however many there are.
 *
 * Why: with one bus listener per client, a message for a run with a thousand watchers is
 * dispatched (and, on Redis, decoded) a thousand times, and Node's EventTarget warns
 * `MaxListenersExceededWarning` from the 11th. Here the bus sees one listener per run; the hub
 * hands the same batch, the same event objects, to each stream. Streams keep their own small
 * buffer and their own position (see run-event-stream.ts), so a slow client falls back to
 * storage without holding back the others, and a late joiner replays history before it goes
 * live. Because every stream receives the very same objects, anything derived from an event
 * (an SSE frame, a GraphQL result) can be computed once and reused (see `memoPerEvent`).
 */
export type RunEventsListener = (events: readonly RunEvent[]) => void;

interface RunChannel {
  readonly listeners: Set<RunEventsListener>;
  readonly unsubscribe: () => void;
}

export class RunEventHub {
  private readonly runs = new Map<string, RunChannel>();

  constructor(private readonly bus: EventBus) {}

  /** Registers synchronously (so nothing published after this call is missed); returns the unsubscribe. */
  subscribe(runId: string, listener: RunEventsListener): () => void {
    let channel = this.runs.get(runId);
    if (!channel) {
      const listeners = new Set<RunEventsListener>();
      const unsubscribe = this.bus.subscribe('runEvents', runId, (events) => {
        for (const each of listeners) {
          // One stream's failure must not cost the others their events.
          try {
            each(events);
          } catch {
            /* the stream handles its own errors */
          }
        }
      });
      channel = { listeners, unsubscribe };
      this.runs.set(runId, channel);
    }
    // A wrapper of our own, so the same function registered twice counts twice.
    const entry: RunEventsListener = (events) => listener(events);
    const joined = channel;
    joined.listeners.add(entry);
    return () => {
      if (!joined.listeners.delete(entry) || joined.listeners.size > 0) return;
      joined.unsubscribe();
      if (this.runs.get(runId) === joined) this.runs.delete(runId);
    };
  }

  /** Streams listening to `runId` (or to every run) on this instance. */
  listeners(runId?: string): number {
    if (runId !== undefined) return this.runs.get(runId)?.listeners.size ?? 0;
    let total = 0;
    for (const channel of this.runs.values()) total += channel.listeners.size;
    return total;
  }

  /** Runs with at least one stream, i.e. bus subscriptions held. */
  watchedRuns(): number {
    return this.runs.size;
  }
}

const hubs = new WeakMap<EventBus, RunEventHub>();

/**
 * The hub of a bus: one per bus, created on first use, so every face that streams events from
 * the same bus shares it without another thing to wire through the context.
 */
export function runEventHub(bus: EventBus): RunEventHub {
  let hub = hubs.get(bus);
  if (!hub) hubs.set(bus, (hub = new RunEventHub(bus)));
  return hub;
}

/**
 * `derive(event)` computed once per event object and kept as long as the event is: live
 * events reach every stream as the same objects, so N streams of a run pay for one.
 */
export function memoPerEvent<T>(derive: (event: RunEvent) => T): (event: RunEvent) => T {
  const cache = new WeakMap<RunEvent, T>();
  return (event) => {
    if (cache.has(event)) return cache.get(event)!;
    const value = derive(event);
    cache.set(event, value);
    return value;
  };
}
