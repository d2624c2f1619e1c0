import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Principal } from '../model/role.js';
import type { MetricsRegistry } from '../observability/metrics.js';
import type { EventBus } from '../pubsub/event-bus.js';
import type { Runner } from '../runner/runner.js';
import type { RateLimiter } from './rate-limiter.js';

/** Everything a resolver may use, created once in `src/app.ts` (tests build their own). */
export interface AppContext {
  readonly db: Kysely<Database>;
  readonly bus: EventBus;
  readonly runner: Runner;
  readonly config: Config;
  readonly log: Logger;
  /** Where the runner and the edge record metrics, and `/metrics` reads them (src/observability). */
  readonly metrics: MetricsRegistry;
  /** Runs started per token per minute (EXECUTE_RATE_PER_MINUTE). */
  readonly executeLimiter: RateLimiter;
}

/** One request's context: the app's, and who is asking (established by the HTTP edge). */
export interface RequestContext extends AppContext {
  readonly principal: Principal;
}
