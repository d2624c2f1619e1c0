import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import { createEventBus, type EventBus, type MessageTarget } from './event-bus.js';

/** Several instances: messages travel through Redis pub/sub. */
export async function createRedisEventBus(redisUrl: string): Promise<EventBus> {
  const publishClient = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  // No ready check on the subscriber: a SUBSCRIBE sent while it connects would collide with it
  // (STACK.md pitfall 5).
  const subscribeClient = new Redis(redisUrl, { lazyConnect: true, enableReadyCheck: false });
  // Connection trouble is logged by the caller through `ready`/`end`; never crash on it.
  publishClient.on('error', () => {});
  subscribeClient.on('error', () => {});
  await Promise.all([publishClient.connect(), subscribeClient.connect()]);
  const target = createRedisEventTarget({ publishClient, subscribeClient }) as unknown as MessageTarget;
  return createEventBus(target, async () => {
    // quit(), not disconnect(): pending PUBLISHes must go out first.
    await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
  });
}
