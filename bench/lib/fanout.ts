import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, type Client } from 'graphql-sse';
import { startServerProcess, type ServerProcess } from '../../test/helpers/process-server.js';
import { startPrivateRedis, type PrivateRedis } from '../../test/helpers/redis-server.js';
import { CpuMeter } from './cpu.js';
import { admin, ADMIN_DATABASE_URL, FIXTURES_DIR, STRATEGIES_DIR } from './server.js';
import { summarize, type Summary } from './stats.js';

/**
 * Cross-instance fan-out: `instances` server processes on one PostgreSQL (and, with Redis, a
 * redis-server of the bench's own), `subscribers` graphql-sse clients spread evenly over the
 * instances and the runs, so most clients watch a run executed by another instance. Latency is
 * the script's own clock when it wrote the line (fixture_clock's `wrote_at`) → the client's
 * callback, same machine, same clock.
 */

export interface FanoutArm {
  readonly name: string;
  readonly instances: number;
  readonly redis: boolean;
}

export interface FanoutPlan {
  readonly subscribers: number;
  readonly runs: number;
  readonly steps: number;
  readonly delayMs: number;
  readonly serverEnv?: Record<string, string>;
}

export interface FanoutResult {
  readonly arm: FanoutArm;
  readonly latency: Summary;
  /** The part from the server reading the line (the event's `timestamp`) to the client. */
  readonly fromServerRead: Summary;
  /** Deliveries of events written before every client was connected (not counted). */
  readonly excluded: number;
  /** Every client got every seq of its run once, in order, up to the terminal event. */
  readonly complete: boolean;
  readonly errors: number;
  readonly wallMs: number;
  /** CPU of the server processes and PostgreSQL during the arm (ms). */
  readonly cpuMs: { servers: number; postgres: number };
  /** p99 of the discarded warm-up round (fresh processes). */
  readonly coldP99: number;
}

const QUERY =
  'subscription($runId: ID!) { runEvents(runId: $runId) { seq eventType status metrics timestamp } }';


async function gqlExecute(url: string, strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($input: ExecuteStrategyInput!) { executeStrategy(input: $input) { id } }',
      variables: { input: { strategy, parameters } },
    }),
  });
  const body = (await response.json()) as { data?: { executeStrategy: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(`executeStrategy failed: ${JSON.stringify(body.errors)}`);
  return body.data.executeStrategy.id;
}

function processCpuMs(pid: number): number {
  // utime + stime of /proc/PID/stat, in clock ticks (100 Hz on Linux).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

export async function fanoutArm(arm: FanoutArm, plan: FanoutPlan, log: (message: string) => void): Promise<FanoutResult> {
  const databaseName = `sr_bench_fanout_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${databaseName}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${databaseName}`;
  let redis: PrivateRedis | undefined;
  const servers: ServerProcess[] = [];
  const clients: Client[] = [];
  let meter: CpuMeter | undefined;
  try {
    if (arm.redis) redis = await startPrivateRedis();
    const env = {
      DATABASE_URL: url.toString(),
      STRATEGIES_DIR: `${STRATEGIES_DIR}:${FIXTURES_DIR}`,
      MAX_CONCURRENT_RUNS: String(plan.runs),
      ...(redis ? { REDIS_URL: redis.url } : {}),
      ...plan.serverEnv,
    };
    // One after the other: the first one migrates the fresh database.
    for (let i = 0; i < arm.instances; i++) servers.push(await startServerProcess(env));
    meter = await CpuMeter.open(url.toString(), databaseName);
    // A warm-up round (discarded): fresh processes compile the delivery path under load first.
    const cold = await fanoutRound(servers, meter, clients, plan, log);
    for (const client of clients.splice(0)) client.dispose();
    const warm = await fanoutRound(servers, meter, clients, plan, log);
    return { arm, ...warm, coldP99: cold.latency.p99 };
  } finally {
    for (const client of clients) client.dispose();
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await server.child;
    }
    await meter?.close();
    await redis?.close();
    await admin(`drop database if exists ${databaseName} with (force)`);
  }
}

async function fanoutRound(
  servers: ServerProcess[],
  meter: CpuMeter,
  clients: Client[],
  plan: FanoutPlan,
  log: (message: string) => void,
): Promise<Omit<FanoutResult, 'arm' | 'coldP99'>> {
    const wait = Math.max(3000, plan.subscribers * 15);
    const runIds: string[] = [];
    for (let r = 0; r < plan.runs; r++) {
      runIds.push(await gqlExecute(servers[r % servers.length]!.url, 'fixture_clock', { steps: plan.steps, delay_ms: plan.delayMs, wait_ms: wait }));
    }
    const cpuBefore = servers.map((s) => processCpuMs(s.child.pid!));
    const pgBefore = await meter.snapshot();
    const startedAt = Date.now();
    let connected = 0;
    let allConnectedAt = Number.POSITIVE_INFINITY;
    const latencies: number[] = [];
    const fromRead: number[] = [];
    let excluded = 0;
    let errors = 0;
    const watches: Array<Promise<boolean>> = [];
    for (let i = 0; i < plan.subscribers; i++) {
      const server = servers[i % servers.length]!;
      // Spread each run's watchers over every instance: most of them are on another instance.
      const runId = runIds[Math.floor(i / servers.length) % runIds.length]!;
      const client = createClient({ url: `${server.url}/graphql/stream`, retryAttempts: 0 });
      clients.push(client);
      watches.push(
        new Promise<boolean>((resolve) => {
          const seqs: number[] = [];
          let first = true;
          let terminal = false;
          client.subscribe<{ runEvents: { seq: number; eventType: string; status: string | null; timestamp: string; metrics: { wrote_at?: number } | null } }>(
            { query: QUERY, variables: { runId } },
            {
              next(payload) {
                const now = Date.now();
                const event = payload.data?.runEvents;
                if (payload.errors) errors += 1;
                if (!event) return;
                if (first) {
                  first = false;
                  if (++connected === plan.subscribers) allConnectedAt = now;
                }
                seqs.push(event.seq);
                const wroteAt = event.metrics?.wrote_at;
                if (event.eventType === 'PROGRESS' || event.eventType === 'progress') {
                  if (typeof wroteAt === 'number' && wroteAt * 1000 > allConnectedAt) {
                    latencies.push(now - wroteAt * 1000);
                    fromRead.push(now - Date.parse(event.timestamp));
                  } else excluded += 1;
                }
                if (event.status && ['COMPLETED', 'FAILED', 'CANCELLED'].includes(event.status.toUpperCase())) terminal = true;
              },
              error() {
                errors += 1;
                resolve(false);
              },
              complete() {
                resolve(terminal && seqs.every((seq, k) => seq === k + 1));
              },
            },
          );
        }),
      );
    }
    const results = await Promise.all(watches);
    const wallMs = Date.now() - startedAt;
    const pgAfter = await meter.snapshot();
    const cpuAfter = servers.map((s) => processCpuMs(s.child.pid!));
    if (connected < plan.subscribers || allConnectedAt === Number.POSITIVE_INFINITY) log(`  only ${connected} of ${plan.subscribers} clients connected`);
    if (latencies.length === 0) log('  warning: no live event measured (clients connected after the runs started?)');
    return {
      latency: summarize(latencies),
      fromServerRead: summarize(fromRead),
      excluded,
      complete: results.every(Boolean),
      errors,
      wallMs,
      cpuMs: {
        servers: cpuAfter.reduce((sum, ms, i) => sum + ms - cpuBefore[i]!, 0),
        postgres: CpuMeter.delta(pgBefore, pgAfter).postgresMs,
      },
    };
}

export interface FanoutScenarioResult {
  readonly plan: FanoutPlan;
  /** Arms in the order they ran (interleaved pairs). */
  readonly results: FanoutResult[];
  /** Per pair: p99 with several instances / p99 with one. */
  readonly p99Ratios: number[];
}

/** Interleaved pairs of one instance (in-process bus) and several (Redis), same plan. */
export async function fanoutScenario(
  options: FanoutPlan & { pairs: number; instances: number },
  log: (message: string) => void,
): Promise<FanoutScenarioResult> {
  const single: FanoutArm = { name: '1 instance, in-process bus', instances: 1, redis: false };
  const several: FanoutArm = { name: `${options.instances} instances, Redis`, instances: options.instances, redis: true };
  const results: FanoutResult[] = [];
  const p99Ratios: number[] = [];
  for (let pair = 0; pair < options.pairs; pair++) {
    const order = pair % 2 === 0 ? [single, several] : [several, single];
    const byArm = new Map<FanoutArm, FanoutResult>();
    for (const arm of order) {
      log(`  pair ${pair + 1}: ${arm.name}, ${options.subscribers} subscribers, ${options.runs} runs`);
      const result = await fanoutArm(arm, options, log);
      log(`    p50 ${result.latency.p50.toFixed(0)} ms, p99 ${result.latency.p99.toFixed(0)} ms (cold round p99 ${result.coldP99.toFixed(0)} ms), complete: ${result.complete}`);
      byArm.set(arm, result);
      results.push(result);
    }
    p99Ratios.push(byArm.get(several)!.latency.p99 / byArm.get(single)!.latency.p99);
  }
  return { plan: options, results, p99Ratios };
}
