import { setMaxListeners } from 'node:events';
import type { RunRecord } from '../db/runs.js';
import type { RunEvent } from '../model/run-event.js';

/**
 * Fan-out of "something new happened" between the parts of one instance and, with Redis,
 * between instances. It is at-most-once (STACK.md pitfall 6): PostgreSQL holds the truth, so a
 * listener that detects a gap reads the missing events from the database.
 */
export interface BusMessages {
  /** Freshly persisted events of one run, oldest first. */
  runEvents: readonly RunEvent[];
  /** A run's new state after a status change. */
  runUpdated: RunRecord;
  /** Ask the instance executing `runId` to stop it. */
  cancelRequested: { runId: string };
  /** A run was queued or a slot may have opened: schedulers should look at the queue. */
  queueChanged: Record<string, never>;
}

export type BusTopic = keyof BusMessages;

export interface EventBus {
  publish<T extends BusTopic>(topic: T, key: string, message: BusMessages[T]): void;
  /** Registers synchronously; the returned function unregisters. */
  subscribe<T extends BusTopic>(topic: T, key: string, listener: (message: BusMessages[T]) => void): () => void;
  /** Number of listeners currently registered (used by tests to prove nothing leaks). */
  listenerCount(): number;
  /**
   * Whether live messages are arriving (false while the Redis subscriber is disconnected:
   * readers then poll storage instead). Always true in process.
   */
  connected(): boolean;
  /** Called (in this process only) whenever `connected()` changes; returns an unsubscribe. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

/** Where a bus's connectedness comes from; the in-process bus is always connected. */
export interface BusConnection {
  connected(): boolean;
  onConnectionChange(listener: (connected: boolean) => void): () => void;
}

const alwaysConnected: BusConnection = { connected: () => true, onConnectionChange: () => () => {} };

/** Anything with the EventTarget surface: Node's own, or yoga's Redis event target. */
export interface MessageTarget {
  addEventListener(type: string, callback: (event: CustomEvent) => void): void;
  removeEventListener(type: string, callback: (event: CustomEvent) => void): void;
  dispatchEvent(event: CustomEvent): boolean;
}

const channel = (topic: BusTopic, key: string) => (key ? `sr:${topic}:${key}` : `sr:${topic}`);

export function createEventBus(
  target: MessageTarget,
  onClose: () => Promise<void> = async () => {},
  connection: BusConnection = alwaysConnected,
): EventBus {
  let listeners = 0;
  return {
    publish(topic, key, message) {
      target.dispatchEvent(new CustomEvent(channel(topic, key), { detail: message }));
    },
    subscribe(topic, key, listener) {
      const callback = (event: CustomEvent) => {
        // A throwing listener must not break delivery to the others, nor the publisher.
        try {
          listener(event.detail);
        } catch {
          /* listeners handle their own errors; nothing to do here */
        }
      };
      const name = channel(topic, key);
      target.addEventListener(name, callback);
      listeners += 1;
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        listeners -= 1;
        target.removeEventListener(name, callback);
      };
    },
    listenerCount: () => listeners,
    connected: () => connection.connected(),
    onConnectionChange: (listener) => connection.onConnectionChange(listener),
    close: onClose,
  };
}

/** One process: plain in-memory dispatch. */
export function createInProcessEventBus(): EventBus {
  const target = new EventTarget();
  // Many listeners on one topic are by design here (every `runUpdated` subscriber; one per
  // watched run for `runEvents`), not a leak: no MaxListenersExceededWarning at the 11th.
  setMaxListeners(0, target);
  return createEventBus(target as unknown as MessageTarget);
}
