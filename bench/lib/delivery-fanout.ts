/**
 * Issue 10's rows beyond the event writer: fan-out to 100 clients against a bare node:http SSE
 * floor, idle connection memory, and start-up to ready from the build against `tsx`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';
import { formatMessage } from '../../src/http/rest/sse-stream.js';
import type { RunEvent } from '../../src/model/run-event.js';
import { executeStrategy, gql, runTimes } from './clients.js';
import { ADMIN_DATABASE_URL, ROOT, STRATEGIES_DIR, type BenchServer } from './server.js';
import { median, percentile, ratioSummary, round, type RatioSummary } from './stats.js';
import pg from 'pg';
import { randomBytes } from 'node:crypto';

type Log = (message: string) => void;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/* ------------------------------------------------------------ client process */

interface ClientProcess {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  /** Per client: flat [seq, receivedAt, …] (not for idle clients). */
  result: Promise<number[][]>;
}

function startClients(kind: 'rest' | 'graphql' | 'raw', url: string, count: number, runId = '', idle = false): ClientProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/lib/sse-load-clients.ts'), kind, url, String(count), runId, idle ? 'idle' : ''], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let onReady!: () => void;
  let fail!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    fail = reject;
  });
  const result = new Promise<number[][]>((resolve, reject) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { ready?: boolean; clients?: number[][] };
      if (message.ready) onReady();
      if (message.clients) resolve(message.clients);
    });
    child.once('exit', (code) => {
      const error = new Error(`${kind} clients exited ${code}: ${stderr}`);
      fail(error);
      reject(error);
    });
  });
  result.catch(() => undefined);
  return { child, ready, result };
}

/* ------------------------------------------------------------ fan-out */

export interface LatencySummary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const summary = (values: number[]): LatencySummary => ({
  n: values.length,
  p50: percentile(values, 50),
  p95: percentile(values, 95),
  p99: percentile(values, 99),
  max: values.reduce((a, b) => Math.max(a, b), -Infinity),
});

export interface FanoutArm {
  arm: 'rest' | 'graphql' | 'floor';
  clients: number;
  events: number;
  /** Every client got every counted seq once, in order. */
  complete: boolean;
  /** Service: bus publication → client; floor: frame written → client. */
  delivery: LatencySummary;
  /** Service only: the event's timestamp (the runner's, at the stdout line) → client. */
  endToEnd: LatencySummary | undefined;
}

export interface FanoutResult {
  clients: number;
  steps: number;
  rounds: Array<Record<'rest' | 'graphql' | 'floor', FanoutArm>>;
  /** Per round: service p99 / floor p99 (delivery). */
  ratioP99: { rest: RatioSummary; graphql: RatioSummary; restEndToEnd: RatioSummary; graphqlEndToEnd: RatioSummary };
  median: Record<'rest' | 'graphql' | 'floor', { deliveryP50: number; deliveryP99: number; endToEndP50: number; endToEndP99: number }>;
}

/** Per client, the latency of every seq in `origins`, and whether it got them all once, in order. */
function latencies(clients: number[][], origins: Map<number, number>): { values: number[]; complete: boolean } {
  const values: number[] = [];
  let complete = true;
  const wanted = [...origins.keys()].sort((a, b) => a - b);
  for (const flat of clients) {
    const seen: number[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const seq = flat[i]!;
      const origin = origins.get(seq);
      if (origin === undefined) continue;
      seen.push(seq);
      values.push(flat[i + 1]! - origin);
    }
    if (seen.length !== wanted.length || seen.some((seq, i) => seq !== wanted[i])) complete = false;
  }
  return { values, complete };
}

async function serviceArm(server: BenchServer, kind: 'rest' | 'graphql', clients: number, steps: number): Promise<FanoutArm & { frames: string[] }> {
  // Queued behind nothing, the run starts at once: events published before every client is
  // connected would be replays, so only what is published after "ready" counts.
  const runId = await executeStrategy(server.url, 'fixture_steps', { steps, delay_ms: 10 });
  const published = new Map<number, number>();
  const stamped = new Map<number, number>();
  const frames: string[] = [];
  let readyAt = Number.POSITIVE_INFINITY;
  const unsubscribe = server.app.ctx.bus.subscribe('runEvents', runId, (events: readonly RunEvent[]) => {
    const now = Date.now();
    for (const event of events) {
      frames.push(formatMessage(event));
      if (now < readyAt) continue;
      published.set(event.seq, now);
      stamped.set(event.seq, Date.parse(event.timestamp));
    }
  });
  try {
    const load = startClients(kind, server.url, clients, runId);
    await load.ready;
    readyAt = Date.now();
    const received = await load.result;
    const run = await runTimes(server.url, runId);
    if (run.status !== 'COMPLETED') throw new Error(`fan-out run ended ${run.status}`);
    const delivery = latencies(received, published);
    const endToEnd = latencies(received, stamped);
    return {
      arm: kind,
      clients,
      events: published.size,
      complete: delivery.complete && published.size > 0,
      delivery: summary(delivery.values),
      endToEnd: summary(endToEnd.values),
      frames,
    };
  } finally {
    unsubscribe();
  }
}

/** The floor: node:http, no framework, the same frames at the same pace to the same clients. */
async function floorArm(frames: readonly string[], clients: number, intervalMs: number): Promise<FanoutArm> {
  const responses: http.ServerResponse[] = [];
  let connected!: () => void;
  const allConnected = new Promise<void>((resolve) => (connected = resolve));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 3000\n\n');
    responses.push(res);
    if (responses.length === clients) connected();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sent = new Map<number, number>();
  try {
    const load = startClients('raw', url, clients);
    await Promise.all([load.ready, allConnected]);
    for (const frame of frames) {
      const seq = Number(/^id: (\d+)/.exec(frame)?.[1]);
      sent.set(seq, Date.now());
      for (const res of responses) res.write(frame);
      await sleep(intervalMs);
    }
    for (const res of responses) res.end();
    const delivery = latencies(await load.result, sent);
    return { arm: 'floor', clients, events: sent.size, complete: delivery.complete, delivery: summary(delivery.values), endToEnd: undefined };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

export async function fanoutScenario(
  server: BenchServer,
  options: { rounds: number; clients: number; steps: number },
  log: Log,
): Promise<FanoutResult> {
  const rounds: FanoutResult['rounds'] = [];
  // Frames of a real run for the floor: a warm-up run, discarded.
  let frames = (await serviceArm(server, 'rest', 1, options.steps)).frames;
  const orders: Array<Array<'rest' | 'graphql' | 'floor'>> = [
    ['rest', 'graphql', 'floor'],
    ['graphql', 'floor', 'rest'],
    ['floor', 'rest', 'graphql'],
  ];
  for (let round = 0; round < options.rounds; round += 1) {
    const arms = {} as Record<'rest' | 'graphql' | 'floor', FanoutArm>;
    for (const arm of orders[round % orders.length]!) {
      if (arm === 'floor') {
        arms.floor = await floorArm(frames, options.clients, 10);
      } else {
        const { frames: fresh, ...result } = await serviceArm(server, arm, options.clients, options.steps);
        arms[arm] = result;
        frames = fresh;
      }
      const a = arms[arm];
      log(`  round ${round + 1} ${arm}: ${a.events} events × ${a.clients} clients, delivery p50 ${a.delivery.p50} p99 ${a.delivery.p99} ms` +
        (a.endToEnd ? `, end to end p50 ${a.endToEnd.p50} p99 ${a.endToEnd.p99} ms` : '') + `, complete ${a.complete}`);
    }
    rounds.push(arms);
  }
  const ratio = (arm: 'rest' | 'graphql', e2e: boolean) =>
    ratioSummary(rounds.map((r) => (e2e ? r[arm].endToEnd!.p99 : r[arm].delivery.p99) / Math.max(1, r.floor.delivery.p99)));
  const med = (arm: 'rest' | 'graphql' | 'floor') => ({
    deliveryP50: median(rounds.map((r) => r[arm].delivery.p50)),
    deliveryP99: median(rounds.map((r) => r[arm].delivery.p99)),
    endToEndP50: arm === 'floor' ? Number.NaN : median(rounds.map((r) => r[arm].endToEnd!.p50)),
    endToEndP99: arm === 'floor' ? Number.NaN : median(rounds.map((r) => r[arm].endToEnd!.p99)),
  });
  return {
    clients: options.clients,
    steps: options.steps,
    rounds,
    ratioP99: { rest: ratio('rest', false), graphql: ratio('graphql', false), restEndToEnd: ratio('rest', true), graphqlEndToEnd: ratio('graphql', true) },
    median: { rest: med('rest'), graphql: med('graphql'), floor: med('floor') },
  };
}

/* ------------------------------------------------------------ idle memory */

export interface IdleMemoryArm {
  arm: 'rest' | 'graphql';
  connections: number;
  /** Server process growth per connection, after a full GC, in KB. */
  rssKb: number;
  heapKb: number;
  /** heapUsed + external + arrayBuffers. */
  jsKb: number;
  /** The server process's open-file limits while they were open (each stream holds one descriptor). */
  openFiles: { soft: number; hard: number } | undefined;
}

/** `Max open files` of this process (Linux), which Node raised to the hard limit at start. */
function openFilesLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line?.slice('Max open files'.length).trim().split(/\s+/).map(Number) ?? [];
    return soft !== undefined && hard !== undefined ? { soft, hard } : undefined;
  } catch {
    return undefined;
  }
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function settledMemory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, js: m.heapUsed + m.external + m.arrayBuffers };
}

export async function idleMemoryScenario(server: BenchServer, options: { connections: number }, log: Log): Promise<IdleMemoryArm[]> {
  // A run that is live and quiet: one step, then a minute of silence.
  const runId = await executeStrategy(server.url, 'fixture_steps', { steps: 1, delay_ms: 60_000 });
  const arms: IdleMemoryArm[] = [];
  try {
    for (const arm of ['rest', 'graphql'] as const) {
      await sleep(500);
      const before = settledMemory();
      const load = startClients(arm, server.url, options.connections, runId, true);
      await load.ready;
      await sleep(1500); // the history replay done, every stream waiting for news
      const after = settledMemory();
      const per = (key: 'rss' | 'heap' | 'js') => round((after[key] - before[key]) / options.connections / 1024, 1);
      arms.push({ arm, connections: options.connections, rssKb: per('rss'), heapKb: per('heap'), jsKb: per('js'), openFiles: openFilesLimit() });
      log(`  ${arm}: ${options.connections} idle connections, per connection RSS ${per('rss')} KB, JS heap ${per('heap')} KB, JS total ${per('js')} KB`);
      load.child.stdin.end();
      await new Promise((resolve) => load.child.once('exit', resolve));
    }
  } finally {
    await gql(server.url, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id: runId }).catch(() => undefined);
  }
  return arms;
}

/* ------------------------------------------------------------ start-up */

export interface StartupResult {
  pairs: number;
  /** spawn → /readyz 200, ms, per start. */
  buildMs: number[];
  tsxMs: number[];
  median: { buildMs: number; tsxMs: number };
  ratio: RatioSummary;
}

async function timeStart(argv: string[], databaseUrl: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', STRATEGIES_DIR, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"url":"(http:[^"]+)"/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`server exited ${code}: ${output}`)));
    });
    for (;;) {
      const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      await sleep(5);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
}

/** `node dist/src/index.js` (npm start) against `node --import tsx src/index.ts` (before), interleaved. */
export async function startupScenario(options: { pairs: number }, log: Log): Promise<StartupResult> {
  if (!existsSync(path.join(ROOT, 'dist/src/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm install does it)');
  const name = `sr_bench_start_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`create database ${name}`);
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const build = ['dist/src/index.js'];
  const tsx = ['--import', 'tsx', 'src/index.ts'];
  try {
    await timeStart(build, url.toString()); // warm-up: migrates the fresh database, fills caches
    await timeStart(tsx, url.toString());
    const buildMs: number[] = [];
    const tsxMs: number[] = [];
    for (let i = 0; i < options.pairs; i += 1) {
      const order = i % 2 === 0 ? ['build', 'tsx'] : ['tsx', 'build'];
      for (const arm of order) {
        const ms = await timeStart(arm === 'build' ? build : tsx, url.toString());
        (arm === 'build' ? buildMs : tsxMs).push(ms);
      }
      log(`  pair ${i + 1}: build ${Math.round(buildMs.at(-1)!)} ms, tsx ${Math.round(tsxMs.at(-1)!)} ms`);
    }
    return {
      pairs: options.pairs,
      buildMs: buildMs.map((x) => round(x, 1)),
      tsxMs: tsxMs.map((x) => round(x, 1)),
      median: { buildMs: round(median(buildMs), 1), tsxMs: round(median(tsxMs), 1) },
      ratio: ratioSummary(buildMs.map((b, i) => b / tsxMs[i]!)),
    };
  } finally {
    await admin(`drop database if exists ${name} with (force)`);
  }
}

/* ------------------------------------------------------------ Markdown */

export function issue10Markdown(r: { delivery?: FanoutResult; idle?: IdleMemoryArm[]; startup?: StartupResult }): string[] {
  const lines: string[] = [];
  const f = r.delivery;
  if (f) {
    const row = (name: string, arm: 'rest' | 'graphql' | 'floor') => {
      const m = f.median[arm];
      const e2e = arm === 'floor' ? '—' : `${m.endToEndP50} / ${m.endToEndP99}`;
      const ratio = arm === 'floor' ? '1' : `**${f.ratioP99[arm].median.toFixed(2)}** (${f.ratioP99[arm].min.toFixed(2)}–${f.ratioP99[arm].max.toFixed(2)})`;
      const e2eRatio = arm === 'floor' ? '—' : `${f.ratioP99[arm === 'rest' ? 'restEndToEnd' : 'graphqlEndToEnd'].median.toFixed(2)}`;
      return `| ${name} | ${m.deliveryP50} / ${m.deliveryP99} | ${ratio} | ${e2e} | ${e2eRatio} |`;
    };
    lines.push(
      '',
      `### 6. Fan-out — one run at ~100 events/s (\`fixture_steps\` ${f.steps} steps, 10 ms apart) watched by ${f.clients} clients, ${f.rounds.length} interleaved rounds`,
      '',
      'Clients are raw SSE readers in a separate process (the same code for every arm). Delivery: service = the committed batch published on the bus → client; floor = a bare `node:http` SSE server writing the same frames (captured from a service run) at the same pace → client. End to end: the event\'s `timestamp` (stamped by the runner at the stdout line) → client. Medians over rounds of each round\'s percentiles (ms).',
      '',
      '| arm | delivery p50 / p99 | delivery p99 ÷ floor p99, median (min–max) | end to end p50 / p99 | end-to-end p99 ÷ floor p99 |',
      '| --- | --- | --- | --- | --- |',
      row(`bare \`node:http\` SSE floor, ${f.clients} raw clients`, 'floor'),
      row(`REST SSE \`/api/strategies/sse/{id}\`, ${f.clients} clients`, 'rest'),
      row(`GraphQL-SSE \`runEvents\` (distinct connections), ${f.clients} subscribers`, 'graphql'),
      '',
      `Every client got every counted event once, in order: ${f.rounds.every((x) => x.rest.complete && x.graphql.complete && x.floor.complete) ? 'yes' : '**NO**'}.`,
    );
  }
  if (r.idle?.length) {
    lines.push(
      '',
      `### 7. Idle connections — server growth per open stream (after a full GC), clients in another process`,
      '',
      '| stream | open | RSS per connection | JS heap per connection | heap + external + array buffers |',
      '| --- | --- | --- | --- | --- |',
      ...r.idle.map((a) => `| ${a.arm === 'rest' ? 'REST SSE' : 'GraphQL-SSE (distinct connections)'} | ${a.connections} | ${a.rssKb} KB | ${a.heapKb} KB | ${a.jsKb} KB |`),
    );
    const limits = r.idle[0]?.openFiles;
    if (limits) {
      lines.push('', `File descriptors: each open stream holds one; the server process's limit was ${limits.soft} (soft) / ${limits.hard} (hard), Node raising the soft limit to the hard one at start.`);
    }
  }
  const s = r.startup;
  if (s) {
    lines.push(
      '',
      `### 8. Start-up to ready on PostgreSQL — spawn → first \`/readyz\` 200, ${s.pairs} interleaved pairs (database already migrated)`,
      '',
      '| start command | median | each |',
      '| --- | --- | --- |',
      `| \`node dist/src/index.js\` (\`npm start\`, the build) | ${Math.round(s.median.buildMs)} ms | ${s.buildMs.map(Math.round).join(', ')} |`,
      `| \`node --import tsx src/index.ts\` (before, \`npm run dev\`) | ${Math.round(s.median.tsxMs)} ms | ${s.tsxMs.map(Math.round).join(', ')} |`,
      '',
      `Build ÷ tsx, median of pairs: **${s.ratio.median.toFixed(3)}** (${s.ratio.min.toFixed(3)}–${s.ratio.max.toFixed(3)}).`,
    );
  }
  return lines;
}
