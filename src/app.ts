import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { createHttpServer } from './http/server.js';
import type { RestStats } from './http/rest/sse-stream.js';
import { createLogger, type Logger } from './logger.js';
import { createInProcessEventBus, type EventBus } from './pubsub/event-bus.js';
import { createRedisEventBus } from './pubsub/redis-event-bus.js';
import type { AppContext } from './resolvers/context.js';
import { generateKey } from './auth/credentials.js';
import { sharedSecret } from './db/server-secrets.js';
import { RateLimiter } from './resolvers/rate-limiter.js';
import { Runner } from './runner/runner.js';
import { countActiveRuns } from './db/run-counts.js';
import { RetentionSweeper } from './maintenance/retention.js';
import { createMetrics } from './observability/metrics.js';
import { IDEMPOTENCY_WINDOW_HOURS } from './resolvers/idempotent-execute.js';
import { StrategyRegistry } from './runner/strategy-registry.js';

/**
 * Assembles the service: database, fan-out, strategy registry, runner and the HTTP edge
 * (GraphQL and REST on one Fastify server). The only place where the pieces meet.
 */
export interface App {
  readonly ctx: AppContext;
  readonly database: DatabaseHandle;
  /** The Fastify server (its routes; `inject()` for tests). */
  readonly http: FastifyInstance;
  /** Open REST SSE streams and heartbeat timers (tests prove nothing leaks). */
  readonly rest: RestStats;
  /** Retention (RETENTION_DAYS): swept at start-up (once listening) and hourly. */
  readonly retention: RetentionSweeper;
  listen(): Promise<{ port: number; url: string }>;
  /**
   * Drains, then closes: from the first moment `/readyz` answers 503 and execute refuses with
   * SHUTTING_DOWN, running children get the grace period, then connections, fan-out and the
   * database close.
   */
  close(): Promise<void>;
}

export interface AppOptions {
  log?: Logger;
  /** Start the runner (recover, then claim queued runs) once listening. @default true */
  startRunner?: boolean;
}

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const log = options.log ?? createLogger(config.logLevel);
  const database = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let bus: EventBus | undefined;
  let registry: StrategyRegistry | undefined;
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length) log.info({ migrations: applied }, 'database migrated');
    bus = config.redisUrl ? await createRedisEventBus(config.redisUrl, log) : createInProcessEventBus();
    registry = await StrategyRegistry.load(config.strategiesDirs, log, { watch: true });
    const metrics = createMetrics();
    const runner = new Runner({ db: database.db, bus, log, config, registry, metrics });
    const executeLimiter = new RateLimiter(config.executeRatePerMinute, 'runs started by one token');
    const ctx: AppContext = Object.freeze({ db: database.db, bus, runner, config, log, executeLimiter, metrics });
    // Every instance signs and checks stream URLs with the same key: the database holds it.
    const streamKey = await sharedSecret(database.db, 'stream_ticket_key', generateKey);
    const { fastify, streams } = await createHttpServer(ctx, {
      draining: () => runner.draining,
      pingDatabase: () => database.ping(),
      databaseKind: database.kind,
    }, streamKey);
    metrics.setSources({ runCounts: () => countActiveRuns(database.db), sseConnections: () => streams.openStreams() });
    const retention = new RetentionSweeper(
      { db: database.db, log, metrics },
      { days: config.retentionDays, batchSize: config.retentionBatchSize, idempotencyHours: IDEMPOTENCY_WINDOW_HOURS },
    );

    let closing: Promise<void> | undefined;
    return {
      ctx,
      database,
      http: fastify,
      rest: streams,
      retention,
      // The port first, then the runner: a second instance that cannot bind must not have
      // recovered, claimed or spawned anything before it exits.
      listen: async () => {
        await fastify.listen({ port: config.port, host: config.host });
        const address = fastify.server.address();
        const port = typeof address === 'object' && address ? address.port : config.port;
        if (options.startRunner !== false) await runner.start();
        retention.start();
        const host = config.host.includes(':') ? `[${config.host}]` : config.host;
        return { port, url: `http://${host}:${port}` };
      },
      close: () =>
        (closing ??= (async () => {
          // Still serving while the runner drains: clients watch their runs end.
          await runner.stop();
          await retention.stop();
          registry!.close();
          await fastify.close();
          await bus!.close();
          await database.close();
        })()),
    };
  } catch (error) {
    registry?.close();
    await bus?.close();
    await database.close();
    throw error;
  }
}
