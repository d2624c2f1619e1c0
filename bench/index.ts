/**
 * strategy-runner benchmark: `npm run bench [-- --quick] [-- --runs N]`.
 *
 * Starts the real service in this process (createApp + loadConfig, real HTTP) against a fresh
 * PostgreSQL database it creates and drops, and compares it with the same scripts run from the
 * CLI, interleaved in the same run (the machine is shared and noisy: every figure is a ratio or a
 * percentile next to its own baseline). Prints Markdown tables; writes bench/results/latest.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { CpuMeter, type CpuDelta } from './lib/cpu.js';
import { fanoutScenario, type FanoutScenarioResult } from './lib/fanout.js';
import { graphqlSseClient, runCli, standaloneEnv } from './lib/clients.js';
import { fanoutScenario as deliveryScenario, idleMemoryScenario, issue10Markdown, startupScenario, type FanoutResult, type IdleMemoryArm, type StartupResult } from './lib/delivery-fanout.js';
import { concurrencyScenario, overheadScenario, pipelineScenario, serviceRun, type ConcurrencyResult, type OverheadResult, type PipelineResult } from './lib/scenarios.js';
import { ROOT, STRATEGIES_DIR, startBenchServer, type BenchServer } from './lib/server.js';
import { round, type RatioSummary, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'concurrent-runs': { type: 'string' },
    'pipeline-steps': { type: 'string' },
    'skip-pipeline': { type: 'boolean', default: false },
    'skip-fanout': { type: 'boolean', default: false },
    'only-fanout': { type: 'boolean', default: false },
    'fanout-subscribers': { type: 'string' },
    'fanout-instances': { type: 'string' },
    'skip-delivery': { type: 'boolean', default: false },
    'server-env': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: path.join(ROOT, 'bench/results/latest.json') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench [-- options]
  --quick               ~1 min: 3 overhead triples, 4-run concurrency batches, 5k-event pipeline
  --runs N              overhead/latency triples (default 8; quick 3)
  --concurrent-runs N   runs in the concurrency batch (default 4: twice the cap, so half of them queue)
  --pipeline-steps N    events of the fixture_steps flood (default 20000; quick 5000)
  --skip-pipeline       leave out the event pipeline figures
  --skip-fanout         leave out the cross-instance fan-out figures
  --only-fanout         only the cross-instance fan-out (section 5), ~2 min
  --fanout-subscribers N  graphql-sse clients in section 5 (default 300; quick 90)
  --fanout-instances N  server processes of the multi-instance arm (default 3)
  --skip-delivery       leave out delivery (100 clients vs a bare SSE floor), idle memory and start-up (sections 6-8)
  --server-env K=V      extra service configuration (repeatable), e.g. EVENT_FLUSH_MS=100
  --out FILE            JSON results (default bench/results/latest.json)
`);
  process.exit(0);
}

const positive = (value: string | undefined, fallback: number, name: string): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1 (got ${value})`);
  return n;
};

const quick = args.quick;
const MAX_CONCURRENT_RUNS = 2;
const plan = {
  mode: quick ? 'quick' : 'full',
  overheadPairs: positive(args.runs, quick ? 3 : 8, 'runs'),
  overheadParameters: { universe: 'sp500', fetch_latency_ms: 5 },
  concurrencyPairs: 2,
  concurrencyRuns: positive(args['concurrent-runs'], 4, 'concurrent-runs'),
  // Full: the workload of section 1; quick: a ~1.5 s run, so the batch fits in the minute.
  concurrencyParameters: quick ? { universe: 'nasdaq100', fetch_latency_ms: 5 } : { universe: 'sp500', fetch_latency_ms: 5 },
  pipelinePairs: args['skip-pipeline'] ? 0 : quick ? 1 : 2,
  pipelineSteps: positive(args['pipeline-steps'], quick ? 5000 : 20_000, 'pipeline-steps'),
  fanoutPairs: args['skip-fanout'] ? 0 : quick ? 1 : 2,
  fanoutInstances: positive(args['fanout-instances'], 3, 'fanout-instances'),
  fanoutSubscribers: positive(args['fanout-subscribers'], quick ? 90 : 300, 'fanout-subscribers'),
  // 3 runs of 200 lines, one every 50 ms (10 s): a steady progress stream, as screeners write.
  fanoutRuns: 3,
  fanoutSteps: 200,
  fanoutDelayMs: 50,
  // Delivery to many clients vs a bare SSE floor, idle memory, start-up (bench/lib/delivery-fanout.ts).
  delivery: args['skip-delivery'] ? undefined : { rounds: quick ? 1 : 3, clients: 100, steps: quick ? 300 : 1000, idleConnections: quick ? 500 : 10_000, startupPairs: quick ? 2 : 5 },
};

const log = (message: string) => process.stderr.write(`${message}\n`);
const loadavg = () => os.loadavg()[0]!;
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

async function machine(server: BenchServer) {
  const db = new pg.Client({ connectionString: server.databaseUrl });
  await db.connect();
  const { rows } = await db.query<{ server_version: string }>('show server_version');
  await db.end();
  let python = '?';
  try {
    python = execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as unknown */
  }
  return {
    host: os.hostname(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? '?',
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    python,
    postgres: rows[0]?.server_version ?? '?',
    platform: `${os.platform()} ${os.release()}`,
  };
}

function runFanout(): Promise<FanoutScenarioResult> {
  log(`5. cross-instance fan-out: ${plan.fanoutSubscribers} graphql-sse subscribers, ${plan.fanoutRuns} runs, 1 vs ${plan.fanoutInstances} server processes, ${plan.fanoutPairs} interleaved pair(s)`);
  return fanoutScenario(
    {
      pairs: plan.fanoutPairs,
      instances: plan.fanoutInstances,
      subscribers: plan.fanoutSubscribers,
      runs: plan.fanoutRuns,
      steps: plan.fanoutSteps,
      delayMs: plan.fanoutDelayMs,
    },
    log,
  );
}

/** `--only-fanout`: section 5 alone (it starts its own server processes). */
async function mainFanoutOnly(): Promise<void> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  log(`strategy-runner bench (fan-out only) — ${command}`);
  if (plan.fanoutPairs === 0) plan.fanoutPairs = quick ? 1 : 2;
  const fanout = await runFanout();
  const finishedAt = new Date();
  const report = {
    command,
    plan,
    startedAt: startedAt.toISOString(),
    durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
    loadavg: { start: loadStart.map((l) => round(l, 2)), end: os.loadavg().map((l) => round(l, 2)) },
    fanout,
  };
  mkdirSync(path.dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    [
      '',
      `## Results — \`${command}\``,
      '',
      `${report.startedAt}, ${report.durationSeconds} s; ${os.availableParallelism()} cores, load average ${report.loadavg.start.join(' ')} at start, ${report.loadavg.end.join(' ')} at end.`,
      fanoutMarkdown(fanout),
      '',
    ].join('\n'),
  );
  log(`\nwrote ${path.relative(process.cwd(), args.out) || args.out}`);
}

async function main(): Promise<void> {
  if (args['only-fanout']) return mainFanoutOnly();
  const startedAt = new Date();
  const loadStart = os.loadavg();
  log(`strategy-runner bench (${plan.mode}) — ${command}`);
  log(`load average at start: ${loadStart.map((l) => l.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores`);

  const extraEnv: Record<string, string> = {};
  for (const pair of args['server-env'] ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--server-env expects KEY=VALUE (got ${pair})`);
    extraEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  // Thousands of idle streams on one run (section 7) need more than the default 100 per run.
  const fanoutEnv: Record<string, string> = plan.delivery ? { SSE_MAX_STREAMS_PER_RUN: '100000' } : {};
  const server = await startBenchServer({ MAX_CONCURRENT_RUNS: String(MAX_CONCURRENT_RUNS), ...fanoutEnv, ...extraEnv });
  const stop = () => {
    log('interrupted: closing the server and dropping the bench database');
    void server.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const client = graphqlSseClient(server.url);
  const meter = await CpuMeter.open(server.databaseUrl, server.databaseName);
  try {
    const env = await machine(server);
    log(`service at ${server.url}, database ${server.databaseName}`);

    // Warm-up (discarded): Python bytecode caches, the server's JIT and connection pool.
    log('warm-up …');
    const warmParams = { universe: 'dow30', fetch_latency_ms: 5 };
    await runCli(['python3', 'bullish_strategy.py', '--params-json', JSON.stringify(warmParams)], STRATEGIES_DIR, standaloneEnv());
    await serviceRun(server, client, 'bullish_strategy', warmParams, { rest: true });
    await serviceRun(server, client, 'fixture_steps', { steps: 200, delay_ms: 0 }, { rest: true });

    log(`1+2. overhead vs CLI and progress latency: ${plan.overheadPairs} interleaved triples`);
    const overhead = await overheadScenario(server, client, { pairs: plan.overheadPairs, parameters: plan.overheadParameters, loadavg, meter }, log);

    log(`3. concurrency: ${plan.concurrencyRuns} runs, MAX_CONCURRENT_RUNS=${MAX_CONCURRENT_RUNS}, ${plan.concurrencyPairs} interleaved pair(s)`);
    const concurrency = await concurrencyScenario(
      server,
      client,
      { pairs: plan.concurrencyPairs, runs: plan.concurrencyRuns, parameters: plan.concurrencyParameters, maxConcurrentRuns: MAX_CONCURRENT_RUNS, loadavg },
      log,
    );

    let pipeline: PipelineResult | undefined;
    if (plan.pipelinePairs > 0) {
      log(`4. event pipeline: fixture_steps ${plan.pipelineSteps} events, ${plan.pipelinePairs} interleaved pair(s)`);
      pipeline = await pipelineScenario(server, client, { pairs: plan.pipelinePairs, steps: plan.pipelineSteps, loadavg, meter }, log);
    }

    let delivery: FanoutResult | undefined;
    let idle: IdleMemoryArm[] | undefined;
    let startup: StartupResult | undefined;
    if (plan.delivery) {
      log(`6. delivery: ${plan.delivery.clients} REST / GraphQL-SSE clients vs a bare node:http SSE floor, ${plan.delivery.rounds} round(s)`);
      delivery = await deliveryScenario(server, plan.delivery, log);
      log(`7. idle connections: ${plan.delivery.idleConnections} of each kind`);
      idle = await idleMemoryScenario(server, { connections: plan.delivery.idleConnections }, log);
      log(`8. start-up to ready on PostgreSQL: ${plan.delivery.startupPairs} interleaved pairs`);
      startup = await startupScenario({ pairs: plan.delivery.startupPairs }, log);
    }
    // Last: it starts server processes of its own, so the in-process server above sits idle.
    const fanout = plan.fanoutPairs > 0 ? await runFanout() : undefined;

    const finishedAt = new Date();
    const loadEnd = os.loadavg();
    const report = {
      command,
      plan,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationSeconds: round((finishedAt.getTime() - startedAt.getTime()) / 1000, 1),
      loadavg: { start: loadStart.map((l) => round(l, 2)), end: loadEnd.map((l) => round(l, 2)) },
      machine: env,
      serverEnv: server.env,
      overhead,
      concurrency,
      pipeline,
      fanout,
      delivery,
      idle,
      startup,
    };
    mkdirSync(path.dirname(args.out), { recursive: true });
    writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(markdown(report));
    log(`\nwrote ${path.relative(process.cwd(), args.out) || args.out}`);
  } finally {
    client.dispose();
    await meter.close();
    await server.close();
  }
}

/* ---------------------------------------------------------------- Markdown */

const s = (msValue: number) => `${(msValue / 1000).toFixed(2)} s`;
const msf = (value: number) => `${value.toFixed(0)} ms`;
const ratio = (r: RatioSummary) => `**${r.median.toFixed(3)}** (${r.min.toFixed(3)}–${r.max.toFixed(3)})`;
const pct = (r: RatioSummary) => {
  const f = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)} %`;
  return `${f(r.median)} (${f(r.min)} … ${f(r.max)})`;
};
const lat = (name: string, l: Summary & { replayed: number }) =>
  `| ${name} | ${l.n} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} | ${l.replayed} |`;

const cpuCells = (d: CpuDelta) => `${Math.round(d.childrenMs)} / ${Math.round(d.nodeMs)} / ${Math.round(d.postgresMs)}`;
const cpuRow = (name: string, d: CpuDelta) =>
  `| ${name} | ${Math.round(d.childrenMs)} | ${Math.round(d.nodeMs)} | ${Math.round(d.postgresMs)} | ${Math.round(d.childrenMs + d.nodeMs + d.postgresMs)} |`;

function markdown(r: {
  command: string;
  serverEnv: Record<string, string>;
  plan: typeof plan;
  startedAt: string;
  durationSeconds: number;
  loadavg: { start: number[]; end: number[] };
  machine: Awaited<ReturnType<typeof machine>>;
  overhead: OverheadResult;
  concurrency: ConcurrencyResult;
  pipeline: PipelineResult | undefined;
  fanout: FanoutScenarioResult | undefined;
  delivery?: FanoutResult;
  idle?: IdleMemoryArm[];
  startup?: StartupResult;
}): string {
  const o = r.overhead;
  const c = r.concurrency;
  const p = r.pipeline;
  const lines = [
    '',
    `## Results — \`${r.command}\``,
    '',
    `Service configuration: production defaults plus ${Object.entries(r.serverEnv).filter(([k]) => !['DATABASE_URL', 'PORT', 'HOST', 'STRATEGIES_DIR', 'LOG_LEVEL'].includes(k)).map(([k, v]) => `${k}=${v}`).join(', ')}.`,
    '',
    `${r.startedAt}, ${r.durationSeconds} s; ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memoryGb} GB, ` +
      `load average ${r.loadavg.start.join(' ')} at start, ${r.loadavg.end.join(' ')} at end; ` +
      `${r.machine.node}, ${r.machine.python}, PostgreSQL ${r.machine.postgres}.`,
    '',
    `### 1. Overhead vs the CLI — \`bullish_strategy\` ${JSON.stringify(o.parameters)}, ${o.ratio.serviceE2e.pairs} interleaved triples`,
    '',
    '| arm | median wall | ratio to CLI, median of pairs (min–max) | overhead (min … max) |',
    '| --- | --- | --- | --- |',
    `| A. CLI, standalone (baseline) | ${s(o.medianMs.cli)} | 1 | — |`,
    `| B. service, \`executeStrategy\` → terminal event at a graphql-sse subscriber | ${s(o.medianMs.serviceE2e)} | ${ratio(o.ratio.serviceE2e)} | ${pct(o.ratio.serviceE2e)} |`,
    `| B′. service, process wall inside (\`finished_at − started_at\`) | ${s(o.medianMs.serviceProcess)} | ${ratio(o.ratio.serviceProcess)} | ${pct(o.ratio.serviceProcess)} |`,
    `| C. CLI with \`STRATEGY_PROGRESS=json\`, piped (the reporter's own cost) | ${s(o.medianMs.cliJson)} | ${ratio(o.ratio.cliJson)} | ${pct(o.ratio.cliJson)} |`,
    '',
    `Service time outside the process (median B − B′): ${msf(o.medianMs.outsideProcess)}; of it, mutation answer ${msf(o.medianMs.accept)}, ` +
      `created → started ${msf(o.medianMs.queue)}. ~${o.pairs[0]?.events ?? '?'} events per run, stored in ${o.medianFlushes} transactions (median); every stream complete (no gap, no duplicate): ${o.streamsComplete ? 'yes' : '**NO**'}.`,
    '',
    'CPU per run, median (ms): the script itself / this Node process (server and bench clients) / PostgreSQL backends of the bench database:',
    '',
    '| arm | script | node | postgres | total |',
    '| --- | --- | --- | --- | --- |',
    cpuRow('A. CLI standalone', o.cpuMedianMs.cli),
    cpuRow('B. service', o.cpuMedianMs.service),
    cpuRow('C. CLI json', o.cpuMedianMs.cliJson),
    '',
    `### 2. Progress latency — script's own \`timestamp\` → client callback (ms, same clock), live events of the runs above`,
    '',
    '| client | events | p50 | p95 | p99 | max | replayed (excluded) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    lat('(inside) stored: committed and published on the service bus', o.latency.stored),
    lat('graphql-sse `runEvents` (distinct connections)', o.latency.graphql),
    lat('REST SSE, `eventsource` EventSource', o.latency.rest),
    lat('(part) delivery only: bus → graphql-sse client', { ...o.latency.deliveryGraphql, replayed: 0 }),
    lat('(part) delivery only: bus → REST EventSource', { ...o.latency.deliveryRest, replayed: 0 }),
    '',
    `### 3. Concurrency — ${c.runs} runs of \`bullish_strategy\` ${JSON.stringify(c.parameters)}, MAX_CONCURRENT_RUNS=${c.maxConcurrentRuns}`,
    '',
    '| pair | order | CLI back to back | service, all submitted at once → last terminal event | throughput ratio (CLI / service) | most RUNNING at once (intervals / 20 ms poll) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...c.pairs.map(
      (x, i) =>
        `| ${i + 1} | ${x.order.join(' → ')} | ${s(x.cliSerialMs)} | ${s(x.serviceMs)} | ${(x.cliSerialMs / x.serviceMs).toFixed(3)} | ${x.maxRunningByIntervals} / ${x.maxRunningByPoll} (${x.polls} polls) |`,
    ),
    '',
    `Throughput ratio, median of pairs: ${ratio(c.throughputRatio)}; never more than ${c.maxConcurrentRuns} RUNNING: ${c.maxRunning <= c.maxConcurrentRuns ? 'yes' : `**NO (${c.maxRunning})**`}.`,
  ];
  if (p) {
    lines.push(
      '',
      `### 4. Event pipeline — \`fixture_steps\` ${JSON.stringify(p.parameters)}`,
      '',
      '| figure | median | baseline / note |',
      '| --- | --- | --- |',
      `| CLI wall, stdout piped and drained | ${s(p.median.cliMs)} | ${Math.round(p.median.cliLinesPerSecond)} lines/s written by the script alone |`,
      `| service process wall (\`finished_at − started_at\`) | ${s(p.median.serviceProcessMs)} | ratio to CLI ${ratio(p.processRatio)} |`,
      `| CPU ms, CLI (script / node / postgres) | ${cpuCells(p.cpuMedianMs.cli)} | |`,
      `| CPU ms, service live run (script / node / postgres) | ${cpuCells(p.cpuMedianMs.service)} | |`,
      `| events stored per second of process wall | ${Math.round(p.median.storedPerSecond)} | ${p.pairs[0]?.storedEvents ?? '?'} events per run in ${p.pairs.map((x) => x.flushes).join(', ')} transactions |`,
      `| **stored and delivered end to end**: events per second from \`executeStrategy\` to the last event at the live graphql-sse subscriber | **${Math.round(p.median.endToEndPerSecond)}** | the script alone (CLI wall): ${Math.round(p.median.scriptAlonePerSecond)} events/s |`,
      `| replay of the finished run to a graphql-sse client | ${Math.round(p.median.replayGraphqlPerSecond)} events/s | |`,
      `| replay of the finished run to a REST EventSource | ${Math.round(p.median.replayRestPerSecond)} events/s | |`,
      '',
      `Live and replayed streams complete (every seq once, in order): ${p.allComplete ? 'yes' : '**NO**'}.`,
    );
  }
  if (r.fanout) lines.push(fanoutMarkdown(r.fanout));
  lines.push('');
  lines.push(...issue10Markdown(r), '');
  return lines.join('\n');
}

function fanoutMarkdown(f: FanoutScenarioResult): string {
  const p = f.plan;
  const row = (x: FanoutScenarioResult['results'][number], i: number) =>
    `| ${Math.floor(i / 2) + 1} | ${x.arm.name} | ${x.latency.n} | ${x.latency.p50.toFixed(0)} | ${x.latency.p95.toFixed(0)} | ${x.latency.p99.toFixed(0)} | ${x.latency.max.toFixed(0)} | ${x.fromServerRead.p99.toFixed(0)} | ${x.coldP99.toFixed(0)} | ${x.complete && x.errors === 0 ? 'yes' : '**NO**'} | ${Math.round(x.cpuMs.servers)} / ${Math.round(x.cpuMs.postgres)} |`;
  const ratios = f.p99Ratios.map((r) => r.toFixed(2)).join(', ');
  return [
    '',
    `### 5. Cross-instance fan-out — ${p.subscribers} graphql-sse subscribers, ${p.runs} runs of \`fixture_clock\` (${p.steps} lines, one per ${p.delayMs} ms)`,
    '',
    'Latency: the script\'s own clock when it wrote the line (`metrics.wrote_at`) → the client callback, ms, live events only. ' +
      'Each arm runs a warm-up round on its fresh server processes first (its p99 shown as "cold"), then the measured round. ' +
      'Subscribers are spread over the instances and the runs, so with several instances most watch a run another instance executes.',
    '',
    '| pair | arm | deliveries | p50 | p95 | p99 | max | p99 from the server reading the line | cold round p99 | every client complete, in order | CPU ms: servers / postgres |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...f.results.map(row),
    '',
    `p99 ratio, several instances / one, per pair: ${ratios}.`,
  ].join('\n');
}

main().catch((error) => {
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
