/**
 * The dashboard in a real browser: `npm run bench:web [-- --runs N] [-- --lines N]`.
 *
 * Starts the real service (bench/lib/server.ts) and Debian's headless Chromium, and measures
 * what a user feels, each figure beside a baseline from the same run (the machine is shared):
 *
 * 1. A flood run (`fixture_flood`, N lines as fast as the script can write them, half progress
 *    and half log lines) watched live on its run page: the cost of each applied batch of events
 *    (store + React commit, per animation frame), events per batch, and the browser's long
 *    tasks. The whole log must be on the page (line count) with the view following the tail.
 * 2. The same, finished run's events replayed: time until the run page shows every line, against
 *    the same stream read raw (fetch of `/graphql/stream`, no parsing, no rendering) in the same
 *    page.
 * 3. `/runs` first contentful paint in a fresh context, against a plain JSON document from the
 *    same server; and the initial JavaScript (gzip) the dashboard's index.html loads.
 *
 * Prints Markdown; writes bench/results/dashboard.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { ROOT, startBenchServer, type BenchServer } from './lib/server.js';
import { median, round, summarize, type Summary } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    lines: { type: 'string', default: '20000' },
    out: { type: 'string', default: path.join(ROOT, 'bench/results/dashboard.json') },
  },
});
const RUNS = Number(args.runs);
const LINES = Number(args.lines);
const command = `npm run bench:web${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const log = (message: string) => process.stderr.write(`${message}\n`);

interface LiveFigures {
  events: number;
  lines: number;
  batches: Summary;
  eventsPerBatch: Summary;
  longTasks: number;
  longTasksOver100: number;
  longestTaskMs: number;
  followsTail: boolean;
  renderedRows: number;
  /** Log lines shown per second, first batch to last. */
  linesPerSecond: number;
  /** Long tasks before the first batch (loading and starting the app), ms each. */
  loadLongTasks: number[];
}

/** Count of log lines the page must show for the run (progress without a message has none). */
async function expectedLines(server: BenchServer, runId: string): Promise<{ lines: number; events: number }> {
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ lines: string; events: string }>(
      `select count(*) filter (where payload->>'event_type' <> 'progress' or coalesce(payload->>'message', '') <> '') as lines,
              count(*) as events
         from run_events where run_id = $1`,
      [runId],
    );
    return { lines: Number(rows[0]!.lines), events: Number(rows[0]!.events) };
  } finally {
    await client.end();
  }
}

async function execute(server: BenchServer, strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${server.url}/api/strategies/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ strategy, parameters }),
  });
  const body = (await response.json()) as { run_id: string };
  return body.run_id;
}

async function waitFinished(server: BenchServer, runId: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${server.url}/api/strategies/runs/${runId}/status`);
    const { status } = (await response.json()) as { status: string };
    if (['completed', 'failed', 'cancelled'].includes(status)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Long tasks and the dashboard's own batch measures, from before the page's first script. */
async function instrument(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: Array<{ start: number; duration: number }> };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.__longTasks.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

async function watchLive(browser: Browser, server: BenchServer): Promise<LiveFigures> {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  await instrument(page);
  // Page first, then the run: the events arrive live, as fast as the script writes them.
  await page.goto(`${server.url}/runs`, { waitUntil: 'load' });
  const runId = await execute(server, 'fixture_flood', { lines: LINES });
  await page.evaluate((id) => {
    history.pushState({}, '', `/runs/${id}`);
    dispatchEvent(new PopStateEvent('popstate'));
  }, runId);
  await waitFinished(server, runId);
  const expected = await expectedLines(server, runId);
  await page.waitForFunction((n) => document.querySelector('[data-testid="log-count"]')?.textContent === `${n} lines`, expected.lines, { timeout: 120_000, polling: 100 });
  await page.waitForTimeout(300);
  const figures = await page.evaluate(() => {
    const batches = performance.getEntriesByName('dashboard:batch') as PerformanceMeasure[];
    // Only what happens once events flow: loading the page's own script is not event processing.
    const firstBatch = batches[0]?.startTime ?? 0;
    const tasks = (window as unknown as { __longTasks: Array<{ start: number; duration: number }> }).__longTasks;
    const log = document.querySelector<HTMLElement>('[role="log"]')!;
    return {
      batchMs: batches.map((entry) => entry.duration),
      streamedMs: batches.length ? batches.at(-1)!.startTime - batches[0]!.startTime : 0,
      eventsPerBatch: batches.map((entry) => (entry.detail as { events: number }).events),
      longTasks: tasks.filter((task) => task.start + task.duration >= firstBatch).map((task) => task.duration),
      loadTasks: tasks.filter((task) => task.start + task.duration < firstBatch).map((task) => task.duration),
      atBottom: log.scrollTop + log.clientHeight >= log.scrollHeight - 2,
      lastRowSeq: Math.max(...[...log.querySelectorAll<HTMLElement>('[data-seq]')].map((row) => Number(row.dataset.seq))),
      renderedRows: log.querySelectorAll('[data-seq]').length,
    };
  });
  await context.close();
  return {
    events: expected.events,
    lines: expected.lines,
    batches: summarize(figures.batchMs),
    eventsPerBatch: summarize(figures.eventsPerBatch),
    longTasks: figures.longTasks.length,
    longTasksOver100: figures.longTasks.filter((ms) => ms >= 100).length,
    longestTaskMs: Math.max(0, ...figures.longTasks),
    followsTail: figures.atBottom && figures.lastRowSeq === expected.events,
    renderedRows: figures.renderedRows,
    linesPerSecond: figures.streamedMs ? (expected.lines / figures.streamedMs) * 1000 : 0,
    loadLongTasks: figures.loadTasks,
  };
}

const RAW_QUERY = 'subscription ($runId: ID!) { runEvents(runId: $runId, afterSeq: 0) { seq eventType timestamp stage progressPercent currentItem totalItems completedItems message metrics status level data exitCode error { code message stderrTail } } }';

/** The finished run replayed: dashboard (navigation → every line on the page) vs the raw stream. */
async function replay(browser: Browser, server: BenchServer, runId: string, lines: number): Promise<{ dashboardMs: number; rawMs: number }> {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/runs`, { waitUntil: 'load' });
  const rawMs = await page.evaluate(async ({ query, runId }) => {
    const started = performance.now();
    const response = await fetch('/graphql/stream', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables: { runId } }),
    });
    const reader = response.body!.getReader();
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    return performance.now() - started;
  }, { query: RAW_QUERY, runId });
  const started = Date.now();
  await page.goto(`${server.url}/runs/${runId}`, { waitUntil: 'commit' });
  await page.waitForFunction((n) => document.querySelector('[data-testid="log-count"]')?.textContent === `${n} lines`, lines, { timeout: 120_000, polling: 'raf' });
  const dashboardMs = Date.now() - started;
  await context.close();
  return { dashboardMs, rawMs };
}

async function firstPaint(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url, { waitUntil: 'load' });
  const fcp = await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime, undefined, { timeout: 10_000 });
  const value = (await fcp.jsonValue()) as number;
  await context.close();
  return value;
}

function initialJavaScriptGzip(): { files: string[]; bytes: number } {
  const dist = path.join(ROOT, 'web/dist');
  const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]!);
  return { files, bytes: files.reduce((sum, file) => sum + gzipSync(readFileSync(path.join(dist, file)), { level: 9 }).length, 0) };
}

const loadStart = os.loadavg();
const server = await startBenchServer();
const browser = await launchChromium();
try {
  log(`dashboard bench: ${RUNS} flood runs of ${LINES} lines`);
  const live: LiveFigures[] = [];
  const replays: Array<{ dashboardMs: number; rawMs: number }> = [];
  let lastRun = '';
  for (let i = 0; i < RUNS; i++) {
    live.push(await watchLive(browser, server));
    log(`  live ${i + 1}: batch p95 ${round(live.at(-1)!.batches.p95, 1)} ms, long tasks ≥100 ms: ${live.at(-1)!.longTasksOver100}`);
  }
  const { rows } = await (async () => {
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    try {
      return await client.query<{ id: string }>("select id from runs where strategy = 'fixture_flood' order by created_at desc limit 1");
    } finally {
      await client.end();
    }
  })();
  lastRun = rows[0]!.id;
  const { lines } = await expectedLines(server, lastRun);
  for (let i = 0; i < RUNS; i++) replays.push(await replay(browser, server, lastRun, lines));
  const paints = { runs: [] as number[], json: [] as number[] };
  for (let i = 0; i < 5; i++) {
    paints.json.push(await firstPaint(browser, `${server.url}/api/openapi.json`));
    paints.runs.push(await firstPaint(browser, `${server.url}/runs`));
  }
  const js = initialJavaScriptGzip();

  const report = {
    command,
    date: new Date().toISOString(),
    browser: browser.version(),
    lines: LINES,
    live,
    replays,
    paints,
    initialJavaScript: js,
  };
  mkdirSync(path.dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);

  const all = (pick: (f: LiveFigures) => number[]) => live.flatMap(pick);
  const batchP95 = live.map((f) => f.batches.p95);
  const md = [
    `### Dashboard in Chromium ${browser.version()} — \`${command}\``,
    '',
    `Load average at the start / end: ${loadStart.map((l) => l.toFixed(2)).join(' ')} / ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores, shared).`,
    '',
    `#### Live flood: \`fixture_flood\` {"lines":${LINES}} watched on its run page (${RUNS} runs, ${live[0]!.events} events, ${live[0]!.lines} log lines each)`,
    '',
    '| run | batches | events/batch p50 / max | batch ms p50 / p95 / max | long tasks (≥50 ms) while streaming | ≥100 ms | longest task ms | long tasks loading the app (ms) | log lines/s shown | log rows in the DOM | follows the tail |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...live.map((f, i) => `| ${i + 1} | ${f.batches.n} | ${f.eventsPerBatch.p50} / ${f.eventsPerBatch.max} | ${round(f.batches.p50, 1)} / ${round(f.batches.p95, 1)} / ${round(f.batches.max, 1)} | ${f.longTasks} | ${f.longTasksOver100} | ${round(f.longestTaskMs, 0)} | ${f.loadLongTasks.map((ms) => round(ms, 0)).join(', ') || '–'} | ${Math.round(f.linesPerSecond)} | ${f.renderedRows} of ${f.lines} | ${f.followsTail ? 'yes' : 'NO'} |`),
    '',
    `Median of the runs' batch p95: ${round(median(batchP95), 1)} ms (budget 100 ms); long tasks ≥100 ms over all runs: ${all((f) => [f.longTasksOver100]).reduce((a, b) => a + b, 0)}.`,
    '',
    `#### Replay of the finished run (${lines} lines): run page shows every line vs the raw stream read in the same page`,
    '',
    '| pair | raw stream ms | dashboard ms (navigation → last line shown) | ratio |',
    '| --- | --- | --- | --- |',
    ...replays.map((r, i) => `| ${i + 1} | ${round(r.rawMs, 0)} | ${r.dashboardMs} | ${round(r.dashboardMs / r.rawMs, 2)} |`),
    '',
    `Median ratio ${round(median(replays.map((r) => r.dashboardMs / r.rawMs)), 2)}.`,
    '',
    '#### First contentful paint (fresh context each time, 5 loads, ms)',
    '',
    '| page | p50 | max |',
    '| --- | --- | --- |',
    `| \`/api/openapi.json\` (baseline: plain JSON, same server) | ${round(median(paints.json), 0)} | ${round(Math.max(...paints.json), 0)} |`,
    `| \`/runs\` (dashboard) | ${round(median(paints.runs), 0)} | ${round(Math.max(...paints.runs), 0)} |`,
    '',
    `Initial JavaScript: ${(js.bytes / 1024).toFixed(1)} KB gzip (${js.files.join(', ')}); the form and the log viewer load on demand.`,
    '',
  ].join('\n');
  process.stdout.write(`${md}\n`);
} finally {
  await browser.close();
  await server.close();
}
