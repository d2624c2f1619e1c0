import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const STRATEGIES_DIR = path.join(ROOT, 'strategies');
export const FIXTURES_DIR = path.join(ROOT, 'test/fixtures/strategies');

/** The machine's PostgreSQL (STACK.md); BENCH_DATABASE_URL overrides the admin URL. */
export const ADMIN_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchServer {
  readonly app: App;
  readonly url: string;
  readonly databaseUrl: string;
  readonly databaseName: string;
  /** Env given to loadConfig (for the report). */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

/** One statement on the admin database (create or drop a bench database). */
export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The real service, in this process, on a real port, against a fresh PostgreSQL database of its
 * own (created here, migrated by createApp, dropped by close). Production defaults everywhere
 * except the port, the log level and the strategy folders (bundled + test fixtures).
 */
export async function startBenchServer(overrides: Record<string, string> = {}): Promise<BenchServer> {
  const databaseName = `sr_bench_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${databaseName}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${databaseName}`;
  const databaseUrl = url.toString();
  const env = {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    HOST: '127.0.0.1',
    STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
  let app: App;
  try {
    app = await createApp(loadConfig(env));
  } catch (error) {
    await admin(`drop database if exists ${databaseName} with (force)`);
    throw error;
  }
  const { url: serverUrl } = await app.listen();
  let closed: Promise<void> | undefined;
  return {
    app,
    url: serverUrl,
    databaseUrl,
    databaseName,
    env: { ...env, DATABASE_URL: `postgres://…/${databaseName}` },
    close: () =>
      (closed ??= (async () => {
        try {
          await app.close();
        } finally {
          await admin(`drop database if exists ${databaseName} with (force)`);
        }
      })()),
  };
}
