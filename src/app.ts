import http from 'node:http';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger, type Logger } from './logger.js';
import { createInProcessEventBus, type EventBus } from './pubsub/event-bus.js';
import { createRedisEventBus } from './pubsub/redis-event-bus.js';
import type { AppContext } from './resolvers/context.js';
import { createRestHandler, type RestStats } from './http/rest/router.js';
import { Runner } from './runner/runner.js';
import { StrategyRegistry } from './runner/strategy-registry.js';
import { createYogaServer } from './http/graphql/yoga.js';

/**
 * Assembles the service: database, fan-out, strategy registry, runner and both API faces
 * behind one HTTP server. The only place where the pieces meet.
 */
export interface App {
  readonly ctx: AppContext;
  readonly server: http.Server;
  readonly database: DatabaseHandle;
  /** Open REST SSE streams and heartbeat timers (tests prove nothing leaks). */
  readonly rest: RestStats;
  listen(): Promise<{ port: number; url: string }>;
  /** Stops taking runs, lets children finish (or stops them), closes everything. */
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
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length) log.info({ migrations: applied }, 'database migrated');
    bus = config.redisUrl ? await createRedisEventBus(config.redisUrl, log) : createInProcessEventBus();
    const registry = await StrategyRegistry.load(config.strategiesDirs, log, { watch: true });
    const runner = new Runner({ db: database.db, bus, log, config, registry });
    const ctx: AppContext = Object.freeze({ db: database.db, bus, runner, config, log });

    const yoga = createYogaServer(ctx);
    const rest = createRestHandler(ctx);
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        return void database
          .ping()
          .then(() => sendJson(res, 200, { status: 'ready', database: database.kind }))
          .catch(() => sendJson(res, 503, { status: 'unavailable', reason: 'database unreachable' }));
      }
      if (path === '/api' || path?.startsWith('/api/')) return void rest(req, res);
      return void yoga(req, res);
    });
    // requestTimeout bounds receiving a request (not the response), so SSE streams are unaffected.
    server.requestTimeout = 120_000;
    server.headersTimeout = 60_000;

    let closing: Promise<void> | undefined;
    return {
      ctx,
      server,
      database,
      rest: rest.stats,
      // The port first, then the runner: a second instance that cannot bind must not have
      // recovered, claimed or spawned anything before it exits.
      listen: async () => {
        const address = await new Promise<{ port: number; url: string }>((resolve, reject) => {
          server.once('error', reject);
          server.listen(config.port, config.host, () => {
            const { port } = server.address() as { port: number };
            const host = config.host.includes(':') ? `[${config.host}]` : config.host;
            resolve({ port, url: `http://${host}:${port}` });
          });
        });
        if (options.startRunner !== false) await runner.start();
        return address;
      },
      close: () =>
        (closing ??= (async () => {
          await runner.stop();
          registry.close();
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
          await bus!.close();
          await database.close();
        })()),
    };
  } catch (error) {
    await bus?.close();
    await database.close();
    throw error;
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}
