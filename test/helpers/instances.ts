import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { FIXTURES_DIR, STRATEGIES_DIR } from './server.js';

export interface TwoInstances {
  readonly database: TestDatabase;
  /** Executes runs. */
  readonly worker: App;
  readonly workerUrl: string;
  /** Serves clients only (its runner never starts). */
  readonly api: App;
  readonly apiUrl: string;
  close(): Promise<void>;
}

/** Two instances of the service sharing one fresh database; `env` adds e.g. REDIS_URL. */
export async function startTwoInstances(env: Record<string, string> = {}): Promise<TwoInstances> {
  const database = await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    LOG_LEVEL: 'silent',
    CANCEL_GRACE_MS: '1000',
    QUEUE_POLL_MS: '200',
    ...env,
  });
  const worker = await createApp(config);
  const api = await createApp(config, { startRunner: false });
  const workerUrl = (await worker.listen()).url;
  const apiUrl = (await api.listen()).url;
  return {
    database,
    worker,
    workerUrl,
    api,
    apiUrl,
    close: async () => {
      await api.close();
      await worker.close();
      await database.drop();
    },
  };
}
