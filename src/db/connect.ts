import fs from 'node:fs/promises';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './database.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** Resolves when the database answers a trivial query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const ping = (db: Kysely<Database>) => async () => {
  await sql`select 1`.execute(db);
};

export interface ConnectOptions {
  /** A postgres:// URL; without it, an embedded PGlite database on disk under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** @default 10 */
  poolSize?: number;
}

// int8 (e.g. count(*)) as a JS number: our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export async function connectDatabase(options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    // A client losing its server (a restart, a terminated backend) must not crash the process:
    // idle clients report through the pool, checked-out ones through their own 'error' event,
    // which would otherwise be an uncaught exception. The query in flight fails on its own.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', ping: ping(db), close: () => db.destroy() };
  }

  await fs.mkdir(options.dataDir, { recursive: true });
  const unlock = await lockDataDir(options.dataDir);
  try {
    // Imported lazily: the WASM build is only loaded by instances that use it.
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create(`${options.dataDir}/pgdata`);
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    return {
      db,
      kind: 'pglite',
      ping: ping(db),
      close: async () => {
        await db.destroy();
        await pglite.close();
        await unlock();
      },
    };
  } catch (error) {
    await unlock();
    throw error;
  }
}

export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

/**
 * The embedded database is one process's: a second server opening the same folder would
 * corrupt it. A lock file holding the owner's pid keeps it out (a stale one is taken over).
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = `${dataDir}/server.pid`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(await fs.readFile(lockFile, 'utf8').catch(() => ''), 10);
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirLockedError(
          `${dataDir} is in use by another strategy-runner (pid ${owner}); stop it, or set DATA_DIR or DATABASE_URL`,
        );
      }
      await fs.rm(lockFile, { force: true }); // left by a server that died
    }
  }
  throw new DataDirLockedError(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `error` means the database could not be reached (refused, dropped, shutting down),
 * as opposed to a query it answered with an error. Only the first kind is worth waiting out.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown), 53300 (too many connections).
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P') || code === '53300';
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, …
  return /Connection terminated|connection (is )?closed|not queryable|timeout exceeded when trying to connect/i.test(String((error as Error)?.message ?? error));
}
