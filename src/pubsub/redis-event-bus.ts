import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { jsonText } from '../model/json-text.js';
import { createEventBus, type BusConnection, type EventBus, type MessageTarget } from './event-bus.js';

/**
 * Reconnect quickly: readers poll storage while Redis is away, and live delivery should be back
 * within a second of Redis returning (ioredis' default backs off to 2 s between attempts).
 */
const retryStrategy = (attempt: number) => Math.min(50 * attempt, 250);

/**
 * Several instances: messages travel through Redis pub/sub. Same shape as yoga's
 * `createRedisEventTarget`, but every Redis call handles its own failure: that target drops
 * the promises of PUBLISH/SUBSCRIBE, so a Redis blip became an unhandled rejection, which ends
 * a Node process. Here a lost message is only logged: PostgreSQL holds every event, and
 * readers fall back to it (STACK.md pitfall 6).
 */
export async function createRedisEventBus(redisUrl: string, log: Logger): Promise<EventBus> {
  const publisher = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3, retryStrategy });
  // No ready check on the subscriber: a SUBSCRIBE sent while it connects would collide with it
  // (STACK.md pitfall 5).
  const subscriber = new Redis(redisUrl, { lazyConnect: true, enableReadyCheck: false, retryStrategy });
  let reported = false;
  const onError = (error: Error) => {
    // ioredis reconnects by itself; say so once per outage, not per retry.
    if (!reported) log.warn({ err: error }, 'Redis connection trouble; reconnecting');
    reported = true;
  };
  publisher.on('error', onError).on('ready', () => (reported = false));
  subscriber.on('error', onError);
  await Promise.all([publisher.connect(), subscriber.connect()]);

  // Live messages arrive only while the subscriber is connected and subscribed again (ioredis
  // re-subscribes every channel on reconnect, then reports 'ready').
  let connected = true;
  const connectionListeners = new Set<(connected: boolean) => void>();
  const setConnected = (value: boolean) => {
    if (value === connected) return;
    connected = value;
    log.info({ connected }, value ? 'Redis fan-out is back: live delivery resumes' : 'Redis fan-out lost: readers poll storage');
    for (const listener of connectionListeners) listener(value);
  };
  subscriber.on('close', () => setConnected(false)).on('end', () => setConnected(false));
  // 'ready' comes before ioredis re-sends the SUBSCRIBEs; a PING queued behind them answers
  // once they are in place.
  subscriber.on('ready', () =>
    setImmediate(() => {
      subscriber.ping().then(
        () => setConnected(true),
        () => {},
      );
    }),
  );
  const connection: BusConnection = {
    connected: () => connected,
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
  };

  const failed = (what: string) => (error: unknown) => log.warn({ err: error }, `Redis ${what} failed`);
  const callbacks = new Map<string, Set<(event: CustomEvent) => void>>();
  subscriber.on('message', (channel: string, message: string) => {
    const listeners = callbacks.get(channel);
    if (!listeners) return;
    let detail: unknown;
    try {
      detail = JSON.parse(message);
    } catch {
      return;
    }
    for (const listener of listeners) listener(new CustomEvent(channel, { detail }));
  });

  const target: MessageTarget = {
    addEventListener(channel, callback) {
      let listeners = callbacks.get(channel);
      if (!listeners) {
        callbacks.set(channel, (listeners = new Set()));
        subscriber.subscribe(channel).catch(failed(`SUBSCRIBE ${channel}`));
      }
      listeners.add(callback);
    },
    removeEventListener(channel, callback) {
      const listeners = callbacks.get(channel);
      if (!listeners?.delete(callback) || listeners.size > 0) return;
      callbacks.delete(channel);
      subscriber.unsubscribe(channel).catch(failed(`UNSUBSCRIBE ${channel}`));
    },
    dispatchEvent(event) {
      publisher.publish(event.type, jsonText(event.detail)).catch(failed(`PUBLISH ${event.type}`));
      return true;
    },
  };
  return createEventBus(
    target,
    async () => {
      connectionListeners.clear();
      // quit(), not disconnect(): pending PUBLISHes must go out first.
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
    connection,
  );
}
