import { performance } from 'node:perf_hooks';
import type { Client } from 'graphql-sse';
import pg from 'pg';
import {
  executeStrategy,
  runCli,
  runTimes,
  standaloneEnv,
  watchGraphql,
  watchRest,
  type RunTimes,
  type WatchResult,
} from './clients.js';
import { CpuMeter, type CpuDelta } from './cpu.js';
import { FIXTURES_DIR, STRATEGIES_DIR, type BenchServer } from './server.js';
import { median, ratioSummary, summarize, type RatioSummary, type Summary } from './stats.js';

export type Log = (message: string) => void;

/** Rotates the arms so that each takes every position in turn (ABC, BCA, CAB, …). */
function rotation<T>(arms: readonly T[], index: number): T[] {
  const k = index % arms.length;
  return [...arms.slice(k), ...arms.slice(0, k)];
}

const ms = (iso: string | null): number => (iso ? Date.parse(iso) : Number.NaN);

/* ---------------------------------------------------------------- one run through the service */

export interface ServiceRun {
  id: string;
  status: string;
  /** executeStrategy sent → terminal status event received by the graphql-sse subscriber. */
  e2eMs: number;
  /** executeStrategy sent → its answer received. */
  acceptMs: number;
  /** finished_at − started_at as stored on the run. */
  processMs: number;
  /** started_at − created_at (queue and claim). */
  queueMs: number;
  lastSeq: number;
  graphql: WatchResult;
  rest: WatchResult | undefined;
  /** The same events as the service's own bus saw them: published right after their commit. */
  published: WatchResult;
  /** Batches published on the bus, i.e. event-writer transactions (flushes) for this run. */
  flushes: number;
  times: RunTimes;
}

/**
 * Listens on the app's in-process event bus (`app.ctx.bus`, topic runEvents): every batch is
 * published right after its transaction commits, so its receipt time splits the latency into
 * "stored" (script → committed) and "delivered" (committed → client).
 */
function watchBus(server: BenchServer, runId: string): { result: WatchResult; batches: () => number; stop: () => void } {
  const result: WatchResult = { events: [], terminalAt: undefined, terminalStatus: undefined, subscribedAt: Date.now(), errors: [] };
  let batches = 0;
  const stop = server.app.ctx.bus.subscribe('runEvents', runId, (events) => {
    batches += 1;
    const receivedAt = Date.now();
    for (const event of events) {
      const status = event.event_type === 'status' ? event.status : null;
      result.events.push({ seq: event.seq, type: event.event_type, status, emittedAt: Date.parse(event.timestamp), receivedAt });
    }
  });
  return { result, batches: () => batches, stop };
}

export async function serviceRun(
  server: BenchServer,
  client: Client,
  strategy: string,
  parameters: Record<string, unknown>,
  options: { rest: boolean },
): Promise<ServiceRun> {
  const start = performance.now();
  const id = await executeStrategy(server.url, strategy, parameters);
  const acceptMs = performance.now() - start;
  const bus = watchBus(server, id);
  const [graphql, rest] = await Promise.all([
    watchGraphql(client, id),
    options.rest ? watchRest(server.url, id) : Promise.resolve(undefined),
  ]).finally(bus.stop);
  if (graphql.terminalAt === undefined) throw new Error(`run ${id}: no terminal event (${JSON.stringify(graphql.errors)})`);
  const times = await runTimes(server.url, id);
  if (times.status !== 'COMPLETED') throw new Error(`run ${id} ended ${times.status}`);
  return {
    id,
    status: times.status,
    e2eMs: graphql.terminalAt - start,
    acceptMs,
    processMs: ms(times.finishedAt) - ms(times.startedAt),
    queueMs: ms(times.startedAt) - ms(times.createdAt),
    lastSeq: times.lastSeq,
    graphql,
    rest,
    published: bus.result,
    flushes: bus.batches(),
    times,
  };
}

/** Progress events received live (stamped after the subscription was asked for): latency in ms. */
function progressLatencies(watch: WatchResult | undefined): { live: number[]; replayed: number } {
  const live: number[] = [];
  let replayed = 0;
  for (const event of watch?.events ?? []) {
    if (event.type !== 'progress') continue;
    if (event.emittedAt < watch!.subscribedAt) replayed += 1;
    else live.push(event.receivedAt - event.emittedAt);
  }
  return { live, replayed };
}

/** Per event (matched by seq): client receipt − publication on the service bus, in ms. */
function deliveryDelays(published: WatchResult, watch: WatchResult | undefined): number[] {
  const at = new Map(published.events.map((e) => [e.seq, e.receivedAt]));
  const delays: number[] = [];
  for (const event of watch?.events ?? []) {
    const publishedAt = at.get(event.seq);
    if (event.type === 'progress' && publishedAt !== undefined) delays.push(event.receivedAt - publishedAt);
  }
  return delays;
}

/** Every seq from 1 to lastSeq exactly once, in order. */
function complete(watch: WatchResult | undefined, lastSeq: number, afterSeq = 0): boolean {
  if (!watch) return false;
  const seqs = watch.events.map((e) => e.seq);
  return seqs.length === lastSeq - afterSeq && seqs.every((seq, i) => seq === afterSeq + i + 1);
}

/* ---------------------------------------------------------------- 1 + 2: overhead and latency */

export interface OverheadPair {
  order: string[];
  cliMs: number;
  cliJsonMs: number;
  serviceE2eMs: number;
  serviceProcessMs: number;
  serviceAcceptMs: number;
  serviceQueueMs: number;
  loadavg1: number;
  runId: string;
  events: number;
  flushes: number;
  cpu: { cli: CpuDelta; service: CpuDelta; cliJson: CpuDelta };
}

export interface OverheadResult {
  strategy: string;
  parameters: Record<string, unknown>;
  pairs: OverheadPair[];
  /** Per-pair ratios to the standalone CLI run of the same pair. */
  ratio: { serviceE2e: RatioSummary; serviceProcess: RatioSummary; cliJson: RatioSummary };
  /** Medians in ms over pairs. */
  /** Event-writer transactions per run (median). */
  medianFlushes: number;
  medianMs: { cli: number; cliJson: number; serviceE2e: number; serviceProcess: number; accept: number; queue: number; outsideProcess: number };
  /** Median CPU ms per arm (children = the Python script; node = server + clients; postgres = its backends). */
  cpuMedianMs: { cli: CpuDelta; service: CpuDelta; cliJson: CpuDelta };
  latency: {
    /** Script timestamp → batch committed and published on the service's bus (storage part). */
    stored: Summary & { replayed: number };
    graphql: Summary & { replayed: number };
    rest: Summary & { replayed: number };
    /** Per event: publication on the bus → client callback (the delivery part alone). */
    deliveryGraphql: Summary;
    deliveryRest: Summary;
  };
  streamsComplete: boolean;
}

export async function overheadScenario(
  server: BenchServer,
  client: Client,
  options: { pairs: number; parameters: Record<string, unknown>; loadavg: () => number; meter: CpuMeter },
  log: Log,
): Promise<OverheadResult> {
  const strategy = 'bullish_strategy';
  const argv = ['python3', 'bullish_strategy.py', '--params-json', JSON.stringify(options.parameters)];
  // The same script in the runner's protocol mode, without the runner: isolates the reporter's cost.
  const jsonEnv = { ...standaloneEnv(), STRATEGY_PROGRESS: 'json', PYTHONUNBUFFERED: '1' };
  const pairs: OverheadPair[] = [];
  const graphqlLatency: number[] = [];
  const restLatency: number[] = [];
  const storedLatency: number[] = [];
  const deliveryGraphql: number[] = [];
  const deliveryRest: number[] = [];
  let storedReplayed = 0;
  let graphqlReplayed = 0;
  let restReplayed = 0;
  let streamsComplete = true;

  for (let i = 0; i < options.pairs; i++) {
    const order = rotation(['cli', 'service', 'cli_json'], i);
    const pair: Partial<OverheadPair> = { order, loadavg1: options.loadavg() };
    const cpu: Partial<OverheadPair['cpu']> = {};
    for (const arm of order) {
      const before = await options.meter.snapshot();
      if (arm === 'cli') {
        const r = await runCli(argv, STRATEGIES_DIR, standaloneEnv());
        if (r.code !== 0) throw new Error(`CLI run failed (${r.code}): ${r.stderrTail}`);
        pair.cliMs = r.wallMs;
        cpu.cli = CpuMeter.delta(before, await options.meter.snapshot());
      } else if (arm === 'cli_json') {
        const r = await runCli(argv, STRATEGIES_DIR, jsonEnv);
        if (r.code !== 0) throw new Error(`CLI json run failed (${r.code}): ${r.stderrTail}`);
        pair.cliJsonMs = r.wallMs;
        cpu.cliJson = CpuMeter.delta(before, await options.meter.snapshot());
      } else {
        const r = await serviceRun(server, client, strategy, options.parameters, { rest: true });
        pair.serviceE2eMs = r.e2eMs;
        pair.serviceProcessMs = r.processMs;
        pair.serviceAcceptMs = r.acceptMs;
        pair.serviceQueueMs = r.queueMs;
        pair.runId = r.id;
        pair.events = r.lastSeq;
        pair.flushes = r.flushes;
        const g = progressLatencies(r.graphql);
        const s = progressLatencies(r.rest);
        const b = progressLatencies(r.published);
        storedLatency.push(...b.live);
        storedReplayed += b.replayed;
        deliveryGraphql.push(...deliveryDelays(r.published, r.graphql));
        deliveryRest.push(...deliveryDelays(r.published, r.rest));
        graphqlLatency.push(...g.live);
        restLatency.push(...s.live);
        graphqlReplayed += g.replayed;
        restReplayed += s.replayed;
        streamsComplete &&= complete(r.graphql, r.lastSeq) && complete(r.rest, r.lastSeq);
        cpu.service = CpuMeter.delta(before, await options.meter.snapshot());
      }
    }
    pair.cpu = cpu as OverheadPair['cpu'];
    const p = pair as OverheadPair;
    pairs.push(p);
    log(
      `  overhead pair ${i + 1}/${options.pairs} [${order.join(' ')}]: cli ${(p.cliMs / 1000).toFixed(2)} s, ` +
        `service ${(p.serviceE2eMs / 1000).toFixed(2)} s (process ${(p.serviceProcessMs / 1000).toFixed(2)} s), ` +
        `cli json ${(p.cliJsonMs / 1000).toFixed(2)} s, ratio ${(p.serviceE2eMs / p.cliMs).toFixed(3)}, load ${p.loadavg1.toFixed(2)}; ` +
        `cpu ms script cli/service ${Math.round(p.cpu.cli.childrenMs)}/${Math.round(p.cpu.service.childrenMs)}, ` +
        `node ${Math.round(p.cpu.service.nodeMs)}, postgres ${Math.round(p.cpu.service.postgresMs)}`,
    );
  }

  return {
    strategy,
    parameters: options.parameters,
    pairs,
    ratio: {
      serviceE2e: ratioSummary(pairs.map((p) => p.serviceE2eMs / p.cliMs)),
      serviceProcess: ratioSummary(pairs.map((p) => p.serviceProcessMs / p.cliMs)),
      cliJson: ratioSummary(pairs.map((p) => p.cliJsonMs / p.cliMs)),
    },
    cpuMedianMs: {
      cli: medianCpu(pairs.map((p) => p.cpu.cli)),
      service: medianCpu(pairs.map((p) => p.cpu.service)),
      cliJson: medianCpu(pairs.map((p) => p.cpu.cliJson)),
    },
    medianMs: {
      cli: median(pairs.map((p) => p.cliMs)),
      cliJson: median(pairs.map((p) => p.cliJsonMs)),
      serviceE2e: median(pairs.map((p) => p.serviceE2eMs)),
      serviceProcess: median(pairs.map((p) => p.serviceProcessMs)),
      accept: median(pairs.map((p) => p.serviceAcceptMs)),
      queue: median(pairs.map((p) => p.serviceQueueMs)),
      outsideProcess: median(pairs.map((p) => p.serviceE2eMs - p.serviceProcessMs)),
    },
    medianFlushes: median(pairs.map((p) => p.flushes)),
    latency: {
      stored: { ...summarize(storedLatency), replayed: storedReplayed },
      graphql: { ...summarize(graphqlLatency), replayed: graphqlReplayed },
      rest: { ...summarize(restLatency), replayed: restReplayed },
      deliveryGraphql: summarize(deliveryGraphql),
      deliveryRest: summarize(deliveryRest),
    },
    streamsComplete,
  };
}

function medianCpu(deltas: readonly CpuDelta[]): CpuDelta {
  return {
    childrenMs: median(deltas.map((d) => d.childrenMs)),
    nodeMs: median(deltas.map((d) => d.nodeMs)),
    postgresMs: median(deltas.map((d) => d.postgresMs)),
  };
}

/* ---------------------------------------------------------------- 3: concurrency */

export interface ConcurrencyPair {
  order: string[];
  cliSerialMs: number;
  serviceMs: number;
  /** Most runs RUNNING at once, from the stored started_at/finished_at intervals. */
  maxRunningByIntervals: number;
  /** Most runs RUNNING/CANCELLING at once seen by a 20 ms poll of the runs table. */
  maxRunningByPoll: number;
  polls: number;
  loadavg1: number;
}

export interface ConcurrencyResult {
  runs: number;
  maxConcurrentRuns: number;
  parameters: Record<string, unknown>;
  pairs: ConcurrencyPair[];
  /** cli serial time / service time, per pair (above 1: the service finished the batch sooner). */
  throughputRatio: RatioSummary;
  maxRunning: number;
}

export async function concurrencyScenario(
  server: BenchServer,
  client: Client,
  options: { pairs: number; runs: number; parameters: Record<string, unknown>; maxConcurrentRuns: number; loadavg: () => number },
  log: Log,
): Promise<ConcurrencyResult> {
  const argv = ['python3', 'bullish_strategy.py', '--params-json', JSON.stringify(options.parameters)];
  const pairs: ConcurrencyPair[] = [];
  for (let i = 0; i < options.pairs; i++) {
    const order = rotation(['cli', 'service'], i);
    const pair: Partial<ConcurrencyPair> = { order, loadavg1: options.loadavg() };
    for (const arm of order) {
      if (arm === 'cli') {
        const start = performance.now();
        for (let j = 0; j < options.runs; j++) {
          const r = await runCli(argv, STRATEGIES_DIR, standaloneEnv());
          if (r.code !== 0) throw new Error(`CLI run failed (${r.code}): ${r.stderrTail}`);
        }
        pair.cliSerialMs = performance.now() - start;
      } else {
        Object.assign(pair, await serviceBatch(server, client, options.runs, options.parameters));
      }
    }
    const p = pair as ConcurrencyPair;
    pairs.push(p);
    log(
      `  concurrency pair ${i + 1}/${options.pairs} [${order.join(' ')}]: ${options.runs} runs, cli serial ${(p.cliSerialMs / 1000).toFixed(2)} s, ` +
        `service ${(p.serviceMs / 1000).toFixed(2)} s, ratio ${(p.cliSerialMs / p.serviceMs).toFixed(3)}, max running ${p.maxRunningByIntervals}/${p.maxRunningByPoll}`,
    );
  }
  return {
    runs: options.runs,
    maxConcurrentRuns: options.maxConcurrentRuns,
    parameters: options.parameters,
    pairs,
    throughputRatio: ratioSummary(pairs.map((p) => p.cliSerialMs / p.serviceMs)),
    maxRunning: Math.max(...pairs.map((p) => Math.max(p.maxRunningByIntervals, p.maxRunningByPoll))),
  };
}

async function serviceBatch(
  server: BenchServer,
  client: Client,
  runs: number,
  parameters: Record<string, unknown>,
): Promise<Pick<ConcurrencyPair, 'serviceMs' | 'maxRunningByIntervals' | 'maxRunningByPoll' | 'polls'>> {
  const db = new pg.Client({ connectionString: server.databaseUrl });
  await db.connect();
  let maxRunningByPoll = 0;
  let polls = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const { rows } = await db.query<{ n: string }>("select count(*) as n from runs where status in ('RUNNING', 'CANCELLING')");
      maxRunningByPoll = Math.max(maxRunningByPoll, Number(rows[0]?.n ?? 0));
      polls += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    const start = performance.now();
    const watches: Array<Promise<WatchResult>> = [];
    const ids: string[] = [];
    for (let j = 0; j < runs; j++) {
      const id = await executeStrategy(server.url, 'bullish_strategy', parameters);
      ids.push(id);
      watches.push(watchGraphql(client, id));
    }
    const results = await Promise.all(watches);
    const ends = results.map((r, j) => {
      if (r.terminalAt === undefined) throw new Error(`run ${ids[j]}: no terminal event`);
      return r.terminalAt;
    });
    const serviceMs = Math.max(...ends) - start;
    const times = await Promise.all(ids.map((id) => runTimes(server.url, id)));
    for (const t of times) if (t.status !== 'COMPLETED') throw new Error(`run ${t.id} ended ${t.status}`);
    return { serviceMs, maxRunningByIntervals: maxOverlap(times), maxRunningByPoll, polls };
  } finally {
    polling = false;
    await poller;
    await db.end();
  }
}

/** Largest number of [startedAt, finishedAt) intervals that overlap. */
function maxOverlap(times: readonly RunTimes[]): number {
  const points: Array<[number, number]> = [];
  for (const t of times) {
    points.push([ms(t.startedAt), 1], [ms(t.finishedAt), -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
  let open = 0;
  let most = 0;
  for (const [, delta] of points) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

/* ---------------------------------------------------------------- 4: event pipeline */

export interface PipelinePair {
  order: string[];
  cliMs: number;
  serviceProcessMs: number;
  serviceE2eMs: number;
  storedEvents: number;
  flushes: number;
  storedPerSecond: number;
  liveComplete: boolean;
  replayGraphqlMs: number;
  replayGraphqlPerSecond: number;
  replayGraphqlComplete: boolean;
  replayRestMs: number;
  replayRestPerSecond: number;
  replayRestComplete: boolean;
  loadavg1: number;
  /** CPU of the live run alone (not the replays). */
  cpu: { cli: CpuDelta; service: CpuDelta };
}

export interface PipelineResult {
  parameters: Record<string, unknown>;
  pairs: PipelinePair[];
  /** service process wall / CLI wall for the same flood, per pair. */
  processRatio: RatioSummary;
  cpuMedianMs: { cli: CpuDelta; service: CpuDelta };
  median: {
    cliMs: number;
    serviceProcessMs: number;
    storedPerSecond: number;
    endToEndPerSecond: number;
    scriptAlonePerSecond: number;
    replayGraphqlPerSecond: number;
    replayRestPerSecond: number;
    cliLinesPerSecond: number;
  };
  allComplete: boolean;
}

export async function pipelineScenario(
  server: BenchServer,
  client: Client,
  options: { pairs: number; steps: number; loadavg: () => number; meter: CpuMeter },
  log: Log,
): Promise<PipelineResult> {
  const parameters = { steps: options.steps, delay_ms: 0 };
  const argv = ['python3', 'fixture_steps.py', '--params-json', JSON.stringify(parameters)];
  const pairs: PipelinePair[] = [];
  for (let i = 0; i < options.pairs; i++) {
    const order = rotation(['cli', 'service'], i);
    const pair: Partial<PipelinePair> = { order, loadavg1: options.loadavg() };
    const cpu: Partial<PipelinePair['cpu']> = {};
    for (const arm of order) {
      const before = await options.meter.snapshot();
      if (arm === 'cli') {
        const r = await runCli(argv, FIXTURES_DIR, standaloneEnv());
        if (r.code !== 0) throw new Error(`fixture CLI run failed (${r.code}): ${r.stderrTail}`);
        pair.cliMs = r.wallMs;
        cpu.cli = CpuMeter.delta(before, await options.meter.snapshot());
      } else {
        const r = await serviceRun(server, client, 'fixture_steps', parameters, { rest: false });
        cpu.service = CpuMeter.delta(before, await options.meter.snapshot());
        pair.serviceProcessMs = r.processMs;
        pair.serviceE2eMs = r.e2eMs;
        pair.storedEvents = r.lastSeq;
        pair.flushes = r.flushes;
        pair.storedPerSecond = r.lastSeq / (r.processMs / 1000);
        pair.liveComplete = complete(r.graphql, r.lastSeq);

        let start = performance.now();
        const replay = await watchGraphql(client, r.id, 0);
        pair.replayGraphqlMs = (replay.terminalAt ?? Number.NaN) - start;
        pair.replayGraphqlPerSecond = replay.events.length / (pair.replayGraphqlMs / 1000);
        pair.replayGraphqlComplete = complete(replay, r.lastSeq);

        start = performance.now();
        const rest = await watchRest(server.url, r.id);
        pair.replayRestMs = (rest.terminalAt ?? Number.NaN) - start;
        pair.replayRestPerSecond = rest.events.length / (pair.replayRestMs / 1000);
        pair.replayRestComplete = complete(rest, r.lastSeq);
      }
    }
    pair.cpu = cpu as PipelinePair['cpu'];
    const p = pair as PipelinePair;
    pairs.push(p);
    log(
      `  pipeline pair ${i + 1}/${options.pairs} [${order.join(' ')}]: cli ${(p.cliMs / 1000).toFixed(2)} s, service process ${(p.serviceProcessMs / 1000).toFixed(2)} s ` +
        `(${Math.round(p.storedPerSecond)} events/s stored), replay graphql ${Math.round(p.replayGraphqlPerSecond)}/s, rest ${Math.round(p.replayRestPerSecond)}/s`,
    );
  }
  return {
    parameters,
    pairs,
    processRatio: ratioSummary(pairs.map((p) => p.serviceProcessMs / p.cliMs)),
    cpuMedianMs: { cli: medianCpu(pairs.map((p) => p.cpu.cli)), service: medianCpu(pairs.map((p) => p.cpu.service)) },
    median: {
      cliMs: median(pairs.map((p) => p.cliMs)),
      serviceProcessMs: median(pairs.map((p) => p.serviceProcessMs)),
      storedPerSecond: median(pairs.map((p) => p.storedPerSecond)),
      // The figure: executeStrategy sent → the last event at the live graphql-sse subscriber.
      endToEndPerSecond: median(pairs.map((p) => p.storedEvents / (p.serviceE2eMs / 1000))),
      scriptAlonePerSecond: median(pairs.map((p) => p.storedEvents / (p.cliMs / 1000))),
      replayGraphqlPerSecond: median(pairs.map((p) => p.replayGraphqlPerSecond)),
      replayRestPerSecond: median(pairs.map((p) => p.replayRestPerSecond)),
      cliLinesPerSecond: median(pairs.map((p) => (options.steps + 1) / (p.cliMs / 1000))),
    },
    allComplete: pairs.every((p) => p.liveComplete && p.replayGraphqlComplete && p.replayRestComplete),
  };
}
