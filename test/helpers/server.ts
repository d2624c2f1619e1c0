import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES_DIR = path.join(ROOT, 'test/fixtures/strategies');
export const STRATEGIES_DIR = path.join(ROOT, 'strategies');

export interface TestServer {
  readonly app: App;
  /** e.g. http://127.0.0.1:43123 */
  readonly url: string;
  readonly database: TestDatabase;
  /** Stops the app; with `keepDatabase` the database survives (for restart tests). */
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * The real service on a real port, against its own PostgreSQL database, with the bundled
 * strategies and the test fixtures registered. `env` overrides any variable.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: { database?: TestDatabase; log?: Logger } = {},
): Promise<TestServer> {
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    CANCEL_GRACE_MS: '1500',
    SHUTDOWN_GRACE_MS: '2000',
    QUEUE_POLL_MS: '200',
    ...env,
  });
  const app = await createApp(config, { log: options.log });
  const { url } = await app.listen();
  return {
    app,
    url,
    database,
    close: async ({ keepDatabase = false } = {}) => {
      await app.close();
      if (!keepDatabase) await database.drop();
    },
  };
}
