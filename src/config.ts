import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * The environment, parsed once. Every problem is reported at once and the process refuses
 * to start on bad configuration; the rest of the code receives a typed, frozen `Config`.
 */

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const positiveNumber = () => z.coerce.number().positive();

const EnvSchema = z.object({
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  MAX_CONCURRENT_RUNS: int(1, 256).default(2),
  /** Runs executing at once across every instance sharing the database; 0 means no cluster-wide limit. */
  MAX_CONCURRENT_RUNS_TOTAL: int(0, 100_000).default(0),
  /** How often an instance proves it is alive (its runs' heartbeat) and looks for dead instances' runs. */
  HEARTBEAT_MS: int(100, 60_000).default(2000),
  /** A run whose heartbeat is this old (by the database's clock) is taken over: FAILED / INTERRUPTED. */
  TAKEOVER_AFTER_MS: int(1000, 3_600_000).default(10_000),
  /** Unstored output kept per run while the database is slow or away; beyond it the child's output is paused. */
  EVENT_BUFFER_BYTES: int(64 * 1024).default(16 * 1024 * 1024),
  /** How long a database outage may last before a run's events are dropped (and counted) instead of held. */
  EVENT_OUTAGE_LIMIT_MS: int(1000).default(300_000),
  /** While the Redis fan-out is down, subscribers read storage this often. */
  BUS_FALLBACK_POLL_MS: int(20, 5000).default(200),
  STRATEGIES_DIR: z.string().min(1).default('strategies'),
  /** `:`-separated folders a run's `data_dir` parameter may point into (beyond its strategy's own). */
  DATA_DIRS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Time a cancelled or timed-out run gets between SIGTERM and SIGKILL. */
  CANCEL_GRACE_MS: int(0).default(5000),
  /** Time running children get to finish when the server is asked to stop. */
  SHUTDOWN_GRACE_MS: int(0).default(10_000),
  /** Timeout for strategies whose manifest sets none; 0 means no timeout. */
  DEFAULT_TIMEOUT_SECONDS: int(0, 2_000_000).default(0),
  /** A queued run waits while free memory is below this. */
  MIN_FREE_MEMORY_MB: int(0).default(256),
  /** A queued run waits while the 1-minute load average per core is above this. */
  MAX_LOAD_PER_CPU: positiveNumber().default(12),
  /** Longest stdout/stderr line kept; longer lines are truncated (the rest is dropped). */
  MAX_LINE_BYTES: int(1024).default(1024 * 1024),
  /**
   * Least time between two batches of a run's events. 0: group commit alone (a batch is written
   * as soon as the one before it has committed, with everything that arrived meanwhile). Larger
   * trades that much latency for fewer transactions on chatty runs; an event after a quiet spell
   * is stored at once either way.
   */
  EVENT_FLUSH_MS: int(0, 5000).default(0),
  /** How often the queue is re-checked when nothing signals it (other instances, load). */
  QUEUE_POLL_MS: int(50).default(1000),
  /** Open REST SSE streams allowed per run. */
  SSE_MAX_STREAMS_PER_RUN: int(1).default(100),
  /** Heartbeat comment interval on REST SSE streams (the contract promises one at least every 15 s). */
  SSE_HEARTBEAT_MS: int(100, 15_000).default(10_000),
  /** Largest request body accepted by the REST routes. */
  MAX_BODY_BYTES: int(1024).default(1024 * 1024),
  /** `off` or `tokens`; unset: `off` on a loopback HOST, `tokens` otherwise. */
  AUTH: z.enum(['off', 'tokens']).optional(),
  /** How long a browser session lasts after sign-in. */
  SESSION_TTL_HOURS: int(1, 24 * 365).default(12),
  /** Runs allowed to wait in the queue; beyond it execute answers 429 RESOURCE_EXHAUSTED. */
  MAX_QUEUED_RUNS: int(1).default(1000),
  /** Runs one token (or, with AUTH=off, the server) may start per minute. */
  EXECUTE_RATE_PER_MINUTE: int(1).default(120),
  /** A connection that sends and receives nothing this long is closed (streams send heartbeats). */
  IDLE_TIMEOUT_MS: int(1000).default(30_000),
  /** Finished runs older than this many days are deleted with their events; 0 keeps everything. */
  RETENTION_DAYS: int(0, 36_500).default(30),
  /** Runs deleted per retention batch (one short transaction each). */
  RETENTION_BATCH_SIZE: int(1, 10_000).default(500),
});

export type Config = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  maxConcurrentRuns: number;
  /** 0: no cluster-wide limit. */
  maxConcurrentRunsTotal: number;
  heartbeatMs: number;
  takeoverAfterMs: number;
  eventBufferBytes: number;
  eventOutageLimitMs: number;
  busFallbackPollMs: number;
  strategiesDirs: readonly string[];
  /** Absolute; a run's `data_dir` must be inside one of them or its strategy's folder. */
  dataDirs: readonly string[];
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  cancelGraceMs: number;
  shutdownGraceMs: number;
  defaultTimeoutSeconds: number;
  minFreeMemoryMb: number;
  maxLoadPerCpu: number;
  maxLineBytes: number;
  eventFlushMs: number;
  queuePollMs: number;
  sseMaxStreamsPerRun: number;
  sseHeartbeatMs: number;
  maxBodyBytes: number;
  auth: 'off' | 'tokens';
  sessionTtlSeconds: number;
  maxQueuedRuns: number;
  executeRatePerMinute: number;
  idleTimeoutMs: number;
  retentionDays: number;
  retentionBatchSize: number;
  /**
   * `host:pid:nonce`, recorded as the owner of the runs this instance executes (read back at
   * recovery). The nonce tells apart two starts with the same pid (pid 1 in a container).
   */
  instanceId: string;
}>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Parses the environment; throws a `ConfigError` listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" for every variable (a common shell habit: FOO= npm start).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  // A live instance misses at most a couple of heartbeats under load; taking over sooner would
  // fail runs that are still executing.
  if (e.TAKEOVER_AFTER_MS < 3 * e.HEARTBEAT_MS) {
    throw new ConfigError([`TAKEOVER_AFTER_MS: must be at least 3 × HEARTBEAT_MS (${3 * e.HEARTBEAT_MS})`]);
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    maxConcurrentRuns: e.MAX_CONCURRENT_RUNS,
    maxConcurrentRunsTotal: e.MAX_CONCURRENT_RUNS_TOTAL,
    heartbeatMs: e.HEARTBEAT_MS,
    takeoverAfterMs: e.TAKEOVER_AFTER_MS,
    eventBufferBytes: e.EVENT_BUFFER_BYTES,
    eventOutageLimitMs: e.EVENT_OUTAGE_LIMIT_MS,
    busFallbackPollMs: e.BUS_FALLBACK_POLL_MS,
    strategiesDirs: folderList(e.STRATEGIES_DIR),
    dataDirs: folderList(e.DATA_DIRS ?? ''),
    logLevel: e.LOG_LEVEL,
    cancelGraceMs: e.CANCEL_GRACE_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    defaultTimeoutSeconds: e.DEFAULT_TIMEOUT_SECONDS,
    minFreeMemoryMb: e.MIN_FREE_MEMORY_MB,
    maxLoadPerCpu: e.MAX_LOAD_PER_CPU,
    maxLineBytes: e.MAX_LINE_BYTES,
    eventFlushMs: e.EVENT_FLUSH_MS,
    queuePollMs: e.QUEUE_POLL_MS,
    sseMaxStreamsPerRun: e.SSE_MAX_STREAMS_PER_RUN,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    retentionDays: e.RETENTION_DAYS,
    retentionBatchSize: e.RETENTION_BATCH_SIZE,
    // Like Redis's protected mode: a server reachable from the network never starts open.
    auth: e.AUTH ?? (isLoopback(e.HOST) ? 'off' : 'tokens'),
    sessionTtlSeconds: e.SESSION_TTL_HOURS * 3600,
    maxQueuedRuns: e.MAX_QUEUED_RUNS,
    executeRatePerMinute: e.EXECUTE_RATE_PER_MINUTE,
    idleTimeoutMs: e.IDLE_TIMEOUT_MS,
    instanceId: `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
  });
}

/** A `:`-separated list of folders, absolute, empty entries dropped. */
function folderList(value: string): readonly string[] {
  return Object.freeze(
    value
      .split(':')
      .filter(Boolean)
      .map((dir) => path.resolve(dir)),
  );
}

/** Names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}
