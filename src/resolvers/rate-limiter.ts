import { ResourceExhaustedError } from '../errors.js';

/**
 * At most `perMinute` actions per key in any sliding minute (per instance): a runaway script
 * holding one token cannot flood the queue, while other tokens go on. Counted in memory, so
 * the limit holds per instance; the queue bound (MAX_QUEUED_RUNS) is the cluster-wide one.
 */
export class RateLimiter {
  private readonly recent = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly action: string,
  ) {}

  /** @throws ResourceExhaustedError when `key` has used its minute's allowance. */
  take(key: string, now = Date.now()): void {
    const since = now - 60_000;
    const times = (this.recent.get(key) ?? []).filter((time) => time > since);
    if (times.length >= this.perMinute) {
      const retryIn = Math.ceil((times[0]! - since) / 1000);
      throw new ResourceExhaustedError(`At most ${this.perMinute} ${this.action} per minute; retry in ${retryIn} s.`);
    }
    times.push(now);
    this.recent.set(key, times);
    // Keys idle for a minute hold nothing.
    if (this.recent.size > 1000) for (const [k, t] of this.recent) if (t.at(-1)! <= since) this.recent.delete(k);
  }
}
