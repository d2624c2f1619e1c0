// The bundled screeners (strategies/*.py) run as real python3 subprocesses: standalone output,
// the JSON progress protocol (CONTRACT §2), parameter validation against their manifests, and
// determinism between the two modes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadUserInputError } from '../src/errors.js';
import { StrategyRegistry } from '../src/runner/strategy-registry.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STRATEGIES_DIR = path.join(ROOT, 'strategies');
const STAGES = ['initialization', 'data_download', 'analysis', 'ranking', 'results'];
const FAST = { fetch_latency_ms: 0 };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
interface PropertySchema {
  type: string;
  default: Json;
  description: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: Json[];
  pattern?: string;
  maxLength?: number;
  items?: PropertySchema;
}
interface Manifest {
  name: string;
  description: string;
  command: string[];
  timeout_seconds?: number;
  parameters_schema: {
    type: 'object';
    additionalProperties: boolean;
    properties: Record<string, PropertySchema>;
  };
}
interface ProtocolEvent {
  event_type: string;
  timestamp?: string;
  stage?: string;
  progress_percent?: number;
  current_item?: string;
  total_items?: number;
  completed_items?: number;
  message?: string;
  level?: string;
  metrics?: JsonObject;
  data?: JsonObject;
}

/** The test runner's environment without STRATEGY_PROGRESS, so "by hand" really is by hand. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'STRATEGY_PROGRESS') env[key] = value;
  }
  return { ...env, ...extra };
}

async function runStrategy(
  name: string,
  args: string[],
  mode: 'json' | 'standalone' = 'standalone',
  input?: string,
) {
  const env = cleanEnv(mode === 'json' ? { STRATEGY_PROGRESS: 'json' } : {});
  const result = await execa('python3', [`${name}.py`, ...args], {
    cwd: STRATEGIES_DIR,
    env,
    extendEnv: false,
    reject: false,
    ...(input === undefined ? {} : { input }),
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

const paramsArg = (params: JsonObject) => ['--params-json', JSON.stringify(params)];

function parseEvents(stdout: string): ProtocolEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const event: unknown = JSON.parse(line);
      expect(event).toBeTypeOf('object');
      return event as ProtocolEvent;
    });
}

function loadManifest(name: string): Manifest {
  return JSON.parse(readFileSync(path.join(STRATEGIES_DIR, `${name}.strategy.json`), 'utf8'));
}

function newAjv() {
  const ajv = new Ajv2020.default({ strict: true, allErrors: true, useDefaults: true });
  // Rules between parameters, beside the schema (checked by the service and params.py alike).
  ajv.addKeyword({ keyword: 'x-constraints', schemaType: 'array' });
  return ajv;
}

const silent = pino({ level: 'silent' });

function defaultsOf(manifest: Manifest): JsonObject {
  return Object.fromEntries(
    Object.entries(manifest.parameters_schema.properties).map(([k, p]) => [k, p.default]),
  );
}

/** Assert the CONTRACT §2 event stream of one screener run; returns the result data. */
function checkProtocol(events: ProtocolEvent[], totalTickers: number): JsonObject {
  for (const event of events) {
    expect(['progress', 'log', 'result']).toContain(event.event_type);
    expect(event.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  }
  const progress = events.filter((e) => e.event_type === 'progress');
  const percents = progress.map((e) => e.progress_percent ?? Number.NaN);
  for (const [i, pct] of percents.entries()) {
    expect(pct).toBeGreaterThanOrEqual(i === 0 ? 0 : (percents[i - 1] ?? 0));
    expect(pct).toBeLessThanOrEqual(100);
  }
  expect(percents.at(-1)).toBe(100);
  const stages = progress.map((e) => e.stage).filter((s, i, all) => i === 0 || s !== all[i - 1]);
  expect(stages).toEqual(STAGES);
  for (const stage of ['data_download', 'analysis']) {
    // Per-ticker progress is coalesced (at most one line per 100 ms): a rising subsequence of
    // 1..total that always ends with the stage's last ticker.
    const perTicker = progress.filter((e) => e.stage === stage && e.current_item !== undefined);
    const done = perTicker.map((e) => e.completed_items ?? 0);
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.length).toBeLessThanOrEqual(totalTickers);
    done.forEach((n, i) => expect(n).toBeGreaterThan(i === 0 ? 0 : (done[i - 1] ?? 0)));
    expect(done.at(-1)).toBe(totalTickers);
    expect(new Set(perTicker.map((e) => e.total_items))).toEqual(new Set([totalTickers]));
    expect(perTicker.at(-1)?.metrics).toHaveProperty('tickers_per_second');
  }
  const results = events.filter((e) => e.event_type === 'result');
  expect(results).toHaveLength(1);
  expect(events.at(-1)?.event_type).toBe('result');
  return results[0]?.data ?? {};
}

/** A small CSV universe, so the CSV provider (and `data_dir`) is exercised end to end. */
let csvDir = '';
beforeAll(() => {
  csvDir = mkdtempSync(path.join(tmpdir(), 'strategy-csv-'));
  for (const [n, ticker] of ['AAPL', 'MSFT', 'BRK.B'].entries()) {
    const lines = ['Date,Open,High,Low,Close,Volume'];
    const day = new Date(Date.UTC(2023, 0, 2));
    for (let i = 0; i < 320; i += 1) {
      const close = 100 + n * 40 + i * 0.4 + 6 * Math.sin(i / 9 + n);
      const iso = day.toISOString().slice(0, 10);
      lines.push(`${iso},${close - 0.5},${close + 1},${close - 1.5},${close.toFixed(2)},${1e6 + ((i * 7919) % 500000)}`);
      day.setUTCDate(day.getUTCDate() + (day.getUTCDay() === 5 ? 3 : 1));
    }
    writeFileSync(path.join(csvDir, `${ticker}.csv`), `${lines.join('\n')}\n`);
  }
  writeFileSync(path.join(csvDir, 'BAD.csv'), 'Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,abc,100\n');
  // 60 bars: readable, but too short for SMA 200.
  const short = Array.from({ length: 60 }, (_, i) => `${new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10)},10,11,9,10.5,1000`);
  writeFileSync(path.join(csvDir, 'SHORT.csv'), `Date,Open,High,Low,Close,Volume\n${short.join('\n')}\n`);
});
afterAll(() => rmSync(csvDir, { recursive: true, force: true }));

/** A non-default, valid value for every parameter (the test fails if the schema grows). */
function everyParameter(name: string): JsonObject {
  const shared: JsonObject = {
    tickers: ['AAPL', 'MSFT', 'BRK.B'],
    universe: 'dow30',
    max_tickers: 3,
    data_dir: csvDir,
    seed: 7,
    end_date: '2024-03-29',
    history_days: 300,
    fetch_latency_ms: 0.5,
    top_n: 2,
    require_uptrend: false,
  };
  if (name === 'bullish_strategy') {
    return {
      ...shared,
      rsi_min: 10,
      rsi_max: 95,
      require_golden_cross: false,
      golden_cross_lookback_days: 60,
      require_macd_bullish: false,
      min_volume_ratio: 0.1,
      min_price: 1,
      min_score: 5,
    };
  }
  return {
    ...shared,
    target_delta: 0.7,
    delta_tolerance: 0.1,
    min_days_to_expiry: 300,
    max_days_to_expiry: 800,
    volatility_source: 'hv_30',
    min_volatility: 0.01,
    max_volatility: 3,
    risk_free_rate: 0.03,
    dividend_yield: 0.01,
    max_cost_per_contract: 100000,
    max_entries_per_ticker: 2,
  };
}

function toFlags(params: JsonObject): string[] {
  return Object.entries(params).flatMap(([key, value]) => {
    const flag = `--${key.replaceAll('_', '-')}`;
    if (typeof value === 'boolean') return [value ? flag : `--no-${flag.slice(2)}`];
    if (Array.isArray(value)) return [flag, value.join(',')];
    return [flag, String(value)];
  });
}

describe.each(['bullish_strategy', 'leap_entry_strategy'])('%s', (name) => {
  const manifest = loadManifest(name);
  const schema = manifest.parameters_schema;

  it('has a manifest the runner can register', () => {
    expect(manifest.name).toBe(name);
    expect(manifest.command).toEqual(['python3', `${name}.py`]);
    expect(manifest.description.length).toBeGreaterThan(20);
    expect(manifest.timeout_seconds).toBeGreaterThan(0);
  });

  it('has a strict-valid JSON Schema whose defaults validate', () => {
    const ajv = newAjv();
    const validate = ajv.compile(schema);
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    for (const [key, prop] of Object.entries(schema.properties)) {
      expect(prop, key).toHaveProperty('default');
      expect(prop.description, key).toBeTruthy();
      const bounded =
        prop.type === 'boolean' ||
        prop.enum !== undefined ||
        prop.pattern !== undefined ||
        prop.maxLength !== undefined ||
        prop.items?.pattern !== undefined ||
        ((prop.minimum ?? prop.exclusiveMinimum) !== undefined &&
          (prop.maximum ?? prop.exclusiveMaximum) !== undefined);
      expect(bounded, `${key} has bounds`).toBe(true);
    }
    const defaults = defaultsOf(manifest);
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    const filled: JsonObject = {};
    expect(validate(filled)).toBe(true);
    expect(filled).toEqual(defaults);
  });

  it('--describe prints the manifest schema', async () => {
    const { exitCode, stdout } = await runStrategy(name, ['--describe']);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout)).toEqual(schema);
  });

  it('standalone prints a readable table and nothing from the reporter', async () => {
    const { exitCode, stdout, stderr } = await runStrategy(name, [
      '--universe', 'dow30', '--fetch-latency-ms', '0',
    ]);
    expect(exitCode).toBe(0);
    expect(stderr).toBe(''); // stderr is not a TTY here: no human progress either
    expect(stdout).toContain(`${name}: `);
    expect(stdout).toMatch(/rank\s+ticker/);
    expect(stdout).not.toContain('event_type');
  });

  it('JSON mode emits only protocol events: stages in order, monotonic to 100, one result', async () => {
    const { exitCode, stdout, stderr } = await runStrategy(
      name, paramsArg({ ...FAST, universe: 'nasdaq100', max_tickers: 40 }), 'json');
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    const data = checkProtocol(parseEvents(stdout), 40);
    expect(data).toMatchObject({ strategy: name, summary: { tickers_screened: 40 } });
  });

  it('gives the same result standalone (--json), in JSON mode, and from run to run', async () => {
    const params = { ...FAST, universe: 'nasdaq100' as const, max_tickers: 15, seed: 11 };
    const [first, second, standalone, flags] = await Promise.all([
      runStrategy(name, paramsArg(params), 'json'),
      runStrategy(name, paramsArg(params), 'json'),
      runStrategy(name, [...paramsArg(params), '--json']),
      runStrategy(name, [...toFlags(params), '--json']),
    ]);
    const resultOf = (stdout: string) =>
      parseEvents(stdout).find((e) => e.event_type === 'result')?.data;
    const expected = resultOf(first.stdout);
    expect(expected).toBeDefined();
    expect(resultOf(second.stdout)).toEqual(expected);
    expect(JSON.parse(standalone.stdout)).toEqual(expected);
    expect(JSON.parse(flags.stdout)).toEqual(expected);
    const other = await runStrategy(name, [...paramsArg({ ...params, seed: 12 }), '--json']);
    expect(JSON.parse(other.stdout)).not.toEqual(expected);
  });

  it('accepts every parameter the schema allows, as --params-json and as flags', async () => {
    const all = everyParameter(name);
    expect(Object.keys(all).sort()).toEqual(Object.keys(schema.properties).sort());
    const ajv = newAjv();
    expect(ajv.validate(schema, all), JSON.stringify(ajv.errors)).toBe(true);
    const [viaJson, viaFlags] = await Promise.all([
      runStrategy(name, [...paramsArg(all), '--json']),
      runStrategy(name, [...toFlags(all), '--json']),
    ]);
    expect(viaJson.stderr).toBe('');
    expect(viaJson.exitCode).toBe(0);
    const data = JSON.parse(viaJson.stdout) as { summary: JsonObject };
    expect(data.summary.parameters).toEqual(all);
    expect(data.summary.data_source).toBe('csv');
    expect(data.summary.tickers_screened).toBe(3);
    expect(JSON.parse(viaFlags.stdout)).toEqual(data);
  });

  it('agrees with the service on every boundary of every parameter', async () => {
    const cases: JsonObject[] = [];
    for (const [key, prop] of Object.entries(schema.properties)) {
      for (const value of boundaryValues(prop)) cases.push({ [key]: value });
    }
    cases.push({ no_such_parameter: 1 });
    const harness = [
      'import contextlib, io, json, sys',
      `sys.path.insert(0, ${JSON.stringify(STRATEGIES_DIR)})`,
      'from params import parse_params',
      'out = []',
      'for case in json.load(sys.stdin):',
      '    err = io.StringIO()',
      '    try:',
      '        with contextlib.redirect_stderr(err):',
      `            params, _ = parse_params(${JSON.stringify(path.join(STRATEGIES_DIR, `${name}.py`))}, ["--params-json", json.dumps(case)])`,
      '        out.append({"code": 0, "params": params})',
      '    except SystemExit as exc:',
      '        out.append({"code": exc.code, "stderr": err.getvalue()})',
      'print(json.dumps(out))',
    ].join('\n');
    const run = await execa('python3', ['-c', harness], { input: JSON.stringify(cases), reject: false });
    expect(run.stderr).toBe('');
    const outcomes = JSON.parse(run.stdout) as { code: number; params?: JsonObject; stderr?: string }[];
    // The service's own validator: the schema (ajv) and then its x-constraints.
    const registry = await StrategyRegistry.load([STRATEGIES_DIR], silent);
    for (const [i, testCase] of cases.entries()) {
      const outcome = outcomes[i];
      const label = JSON.stringify(testCase);
      let accepted: Record<string, unknown> | undefined;
      let refusal: BadUserInputError | undefined;
      try {
        accepted = registry.validateParameters(name, testCase);
      } catch (error) {
        refusal = error as BadUserInputError;
      }
      expect(outcome?.code, label).toBe(accepted ? 0 : 2);
      if (accepted) {
        expect(outcome?.params, label).toEqual(accepted);
      } else {
        const key = Object.keys(testCase)[0] ?? '';
        const problem = refusal!.details![0]!;
        if (problem.field === `parameters.${key}` || problem.field.startsWith(`parameters.${key}.`)) {
          expect(outcome?.stderr, label).toMatch(new RegExp(`^error: parameter '${key}(\\[\\d+\\])?': .+\\n$`));
        } else {
          // A constraint with a default broken: the same words on both sides.
          expect(outcome?.stderr, label).toBe(`error: parameter '${problem.field.slice('parameters.'.length)}': ${problem.message}\n`);
        }
      }
    }
  });

  it('exits 2 naming the parameter on invalid input', async () => {
    const cases: [string[], RegExp][] = [
      [paramsArg({ top_n: 0 }), /^error: parameter 'top_n': must be >= 1 \(got 0\)$/],
      [paramsArg({ bogus: 1 }), /^error: parameter 'bogus': unknown parameter/],
      [paramsArg({ tickers: ['AAPL', 'not a ticker'] }), /^error: parameter 'tickers\[1\]': must match/],
      [paramsArg({ data_dir: '/no/such/dir' }), /^error: parameter 'data_dir': not a directory/],
      [paramsArg({ end_date: '2024-02-30' }), /^error: parameter 'end_date': not a valid date/],
      [['--params-json', '{"top_n": NaN}'], /^error: --params-json: invalid JSON/],
      [['--params-json', '[1]'], /^error: --params-json: must be a JSON object/],
      [['--max-tickers', 'many'], /^error: parameter 'max_tickers': must be of type integer \(got "many"\)$/],
      [['--top-n', '5000'], /^error: parameter 'top_n': must be <= 1000 \(got 5000\)$/],
      [['--no-such-flag', '1'], /^error: unrecognized arguments: --no-such-flag 1$/],
      [['--top-n', '3', ...paramsArg({})], /^error: --params-json cannot be combined with parameter flags \(got --top-n\)$/],
    ];
    if (name === 'bullish_strategy') {
      cases.push(
        [paramsArg({ rsi_max: 140 }), /^error: parameter 'rsi_max': must be <= 100 \(got 140\)$/],
        [paramsArg({ rsi_min: 80, rsi_max: 60 }), /^error: parameter 'rsi_min': must be <= rsi_max/],
      );
    } else {
      cases.push(
        [paramsArg({ target_delta: 1 }), /^error: parameter 'target_delta': must be < 1 \(got 1\)$/],
        [paramsArg({ min_days_to_expiry: 700, max_days_to_expiry: 400 }),
          /^error: parameter 'min_days_to_expiry': must be <= max_days_to_expiry/],
      );
    }
    const runs = await Promise.all(cases.map(([args]) => runStrategy(name, args, 'json')));
    for (const [i, run] of runs.entries()) {
      const [args, message] = cases[i] ?? [[], /./];
      expect(run.exitCode, args.join(' ')).toBe(2);
      expect(run.stdout, args.join(' ')).toBe('');
      expect(run.stderr.split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('skips a ticker whose CSV is missing or too short, with a warning naming it, and finishes with the rest', async () => {
    const { exitCode, stdout, stderr } = await runStrategy(
      name, paramsArg({ ...FAST, data_dir: csvDir, tickers: ['AAPL', 'NVDA', 'SHORT', 'MSFT'], history_days: 300 }), 'json');
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const events = parseEvents(stdout);
    const warnings = events.filter((e) => e.event_type === 'log' && e.level === 'warning').map((e) => e.message);
    expect(warnings).toEqual([
      `skipped NVDA: ${path.join(csvDir, 'NVDA.csv')}: no data file for ticker NVDA`,
      expect.stringMatching(/^skipped SHORT: only 60 daily bars up to 2024-12-31, too few to analyse$/),
    ]);
    const data = events.find((e) => e.event_type === 'result')?.data as { summary: JsonObject };
    expect(data.summary).toMatchObject({
      tickers_screened: 4,
      tickers_skipped: 2,
      skipped: [{ ticker: 'NVDA', reason: expect.stringContaining('no data file') }, { ticker: 'SHORT', reason: expect.stringContaining('too few') }],
      data_source: 'csv',
      data: { source: 'csv', folder: csvDir },
    });
    const analysed = events.filter((e) => e.stage === 'analysis' && e.current_item !== undefined).map((e) => e.current_item);
    // Coalesced progress: an in-order subsequence that ends with the last ticker.
    expect(analysed.at(-1)).toBe('MSFT');
    expect(analysed).toEqual(['AAPL', 'SHORT', 'MSFT'].filter((t) => analysed.includes(t)));
  });

  it('fails naming the folder when no ticker has data, and the file and line when one is malformed', async () => {
    const [none, malformed] = await Promise.all([
      runStrategy(name, [...paramsArg({ ...FAST, data_dir: csvDir, tickers: ['NVDA', 'TSLA'] })], 'json'),
      runStrategy(name, [...paramsArg({ ...FAST, data_dir: csvDir, tickers: ['BAD'] })]),
    ]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toBe(`error: no data for any of the 2 tickers (CSV data from ${csvDir})`);
    expect(parseEvents(none.stdout).some((e) => e.event_type === 'result')).toBe(false);
    expect(malformed.exitCode).toBe(1);
    expect(malformed.stderr).toMatch(/BAD\.csv:2: bad Close 'abc'/);
  });

  it('says the bundled data is synthetic, with its seed, in the result and the table', async () => {
    const [json, table] = await Promise.all([
      runStrategy(name, [...paramsArg({ ...FAST, universe: 'dow30', max_tickers: 3, seed: 9 }), '--json']),
      runStrategy(name, ['--universe', 'dow30', '--max-tickers', '3', '--seed', '9', '--fetch-latency-ms', '0']),
    ]);
    const summary = (JSON.parse(json.stdout) as { summary: JsonObject }).summary;
    expect(summary.data_source).toBe('synthetic');
    expect(summary.data).toEqual({ source: 'synthetic', seed: 9, note: 'synthetic prices generated from the seed, not market data' });
    expect(table.stdout.split('\n')[0]).toContain('(synthetic data, seed 9: not market data, as of 2024-12-31)');
  });
});

/** Values at and just beyond each bound of a property (valid and invalid alike). */
function boundaryValues(prop: PropertySchema): Json[] {
  const step = prop.type === 'integer' ? 1 : 0.001;
  const values: Json[] = [];
  if (prop.type === 'integer' || prop.type === 'number') {
    if (prop.minimum !== undefined) values.push(prop.minimum, prop.minimum - step);
    if (prop.maximum !== undefined) values.push(prop.maximum, prop.maximum + step);
    if (prop.exclusiveMinimum !== undefined) values.push(prop.exclusiveMinimum, prop.exclusiveMinimum + step);
    if (prop.exclusiveMaximum !== undefined) values.push(prop.exclusiveMaximum, prop.exclusiveMaximum - step);
    values.push('1', true, null);
    if (prop.type === 'integer') values.push(1.5, 2.0);
  } else if (prop.type === 'boolean') {
    values.push(true, false, 'true', 1, null);
  } else if (prop.type === 'string') {
    for (const choice of prop.enum ?? []) values.push(choice);
    values.push(prop.default, 'no such value!', 42, null);
    if (prop.maxLength !== undefined) values.push('x'.repeat(prop.maxLength), 'x'.repeat(prop.maxLength + 1));
  } else if (prop.type === 'array') {
    values.push([], ['AAPL', 'BRK.B', 'BF-B'], ['aapl'], ['AAPL', 'AAPL'], 'AAPL', [1], null);
  }
  return values;
}

describe('full universe', () => {
  it('screens the built-in S&P 500-like universe (about 500 tickers) in JSON mode', async () => {
    const { exitCode, stdout } = await runStrategy('bullish_strategy', paramsArg(FAST), 'json');
    expect(exitCode).toBe(0);
    const events = parseEvents(stdout);
    const total = events.find((e) => e.stage === 'data_download' && e.total_items)?.total_items ?? 0;
    expect(total).toBeGreaterThanOrEqual(490);
    const data = checkProtocol(events, total) as { summary: JsonObject; candidates: JsonObject[] };
    expect(data.summary.tickers_screened).toBe(total);
    expect(data.candidates.length).toBeGreaterThan(0);
    expect(data.candidates.map((c) => c.rank)).toEqual(data.candidates.map((_, i) => i + 1));
    for (const candidate of data.candidates) {
      expect(candidate).toMatchObject({
        ticker: expect.any(String), score: expect.any(Number), sma_50: expect.any(Number),
        sma_200: expect.any(Number), rsi_14: expect.any(Number), macd: expect.any(Number),
        volume_ratio_50: expect.any(Number),
      });
    }
  });
});
