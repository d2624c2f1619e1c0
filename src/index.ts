import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/** Starts the service: parse the environment, migrate, serve, and stop cleanly on a signal. */

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const log = createLogger(config.logLevel);
const app = await createApp(config, { log }).catch((error: unknown) => {
  log.fatal({ err: error }, 'could not start');
  process.exit(1);
});
const { url } = await app.listen().catch((error: unknown) => {
  log.fatal({ err: error }, `could not listen on ${config.host}:${config.port}`);
  return process.exit(1);
});
log.info({ url, graphiql: `${url}/graphql`, database: app.database.kind, maxConcurrentRuns: config.maxConcurrentRuns }, 'strategy-runner is serving');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: no new runs; running ones get the grace period');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'unclean shutdown');
        process.exit(1);
      },
    );
  });
}
