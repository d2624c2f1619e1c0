// Everything about parameters is checked before a run is queued: cross-field constraints (with
// the script's own message) and DATA_DIRS confinement of data_dir. And a CSV folder allowed by
// DATA_DIRS gives a run that skips a missing ticker with a warning and finishes with the rest.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { STRATEGIES_DIR, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let csvDir: string;
let outsideDir: string;

const submit = (strategy: string, parameters: Record<string, unknown>) =>
  api(server.url, '/api/strategies/execute', { json: { strategy, parameters } });

beforeAll(async () => {
  csvDir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sr-csv-')));
  outsideDir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sr-outside-')));
  for (const [n, ticker] of ['AAPL', 'MSFT'].entries()) {
    const lines = ['Date,Open,High,Low,Close,Volume'];
    const day = new Date(Date.UTC(2023, 0, 2));
    for (let i = 0; i < 320; i += 1) {
      const close = 100 + n * 40 + i * 0.4 + 6 * Math.sin(i / 9 + n);
      lines.push(`${day.toISOString().slice(0, 10)},${close - 0.5},${close + 1},${close - 1.5},${close.toFixed(2)},${1e6 + ((i * 7919) % 500000)}`);
      day.setUTCDate(day.getUTCDate() + (day.getUTCDay() === 5 ? 3 : 1));
    }
    await fs.writeFile(path.join(csvDir, `${ticker}.csv`), `${lines.join('\n')}\n`);
  }
  await fs.symlink(outsideDir, path.join(csvDir, 'escape'));
  await fs.mkdir(path.join(csvDir, 'nested'));
  server = await startTestServer({ DATA_DIRS: csvDir });
});
afterAll(async () => {
  await server?.close();
  await fs.rm(csvDir, { recursive: true, force: true });
  await fs.rm(outsideDir, { recursive: true, force: true });
});

describe('constraints between parameters', () => {
  it('refuses rsi_min > rsi_max at submission with the message the script prints, and queues nothing', async () => {
    const refused = await submit('bullish_strategy', { rsi_min: 80, rsi_max: 20 });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Invalid parameters for strategy "bullish_strategy": parameters.rsi_min must be <= rsi_max (20) (got 80)',
      details: [{ field: 'parameters.rsi_min', message: 'must be <= rsi_max (20) (got 80)' }],
    });
    const script = await execa('python3', ['bullish_strategy.py', '--params-json', JSON.stringify({ rsi_min: 80, rsi_max: 20 })], {
      cwd: STRATEGIES_DIR,
      reject: false,
    });
    expect(script.exitCode).toBe(2);
    expect(script.stderr).toBe(`error: parameter 'rsi_min': ${refused.body.error.details[0].message}`);
    const runs = await gql<{ runs: { nodes: unknown[] } }>(server.url, '{ runs { nodes { id } } }');
    expect(runs.data?.runs.nodes).toEqual([]);
  });

  it('checks a default against a given value, every constraint at once, over GraphQL too', async () => {
    const response = await gql(
      server.url,
      'mutation($input: ExecuteStrategyInput!) { executeStrategy(input: $input) { id } }',
      { input: { strategy: 'leap_entry_strategy', parameters: { min_days_to_expiry: 900, min_volatility: 5, max_volatility: 4 } } },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const details = response.errors?.[0]?.extensions?.details as Array<{ field: string }>;
    expect(details.map((d) => d.field)).toEqual(['parameters.min_days_to_expiry', 'parameters.min_volatility']);
    expect(response.errors?.[0]?.message).toMatch(/must be <= max_days_to_expiry \(\d+\) \(got 900\)/);
  });
});

describe('DATA_DIRS', () => {
  it.each([
    ['a folder outside', () => outsideDir, /is outside the allowed folders/],
    ['a way out through ..', () => path.join(csvDir, '..', path.basename(outsideDir)), /is outside the allowed folders/],
    ['a relative way out', () => '../../etc', /is outside the allowed folders/],
    ['a symbolic link out', () => path.join(csvDir, 'escape'), /leads outside the allowed folders \(through a symbolic link\)/],
    ['a folder that does not exist', () => path.join(csvDir, 'nope'), /is not an existing folder/],
    ['a file', () => path.join(csvDir, 'AAPL.csv'), /is not a folder/],
  ])('refuses %s at submission, naming the allowed folders', async (_, dataDir, why) => {
    const refused = await submit('bullish_strategy', { data_dir: dataDir() });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('BAD_USER_INPUT');
    expect(refused.body.error.details).toEqual([{ field: 'parameters.data_dir', message: expect.stringMatching(why) }]);
    expect(refused.body.error.message).toContain(`runs may read data only inside: ${STRATEGIES_DIR}, ${csvDir}`);
  });

  it('refuses a NUL byte at submission, before the path is looked at', async () => {
    const refused = await submit('bullish_strategy', { data_dir: `${csvDir}/a\u0000b` });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ field: 'parameters.data_dir', message: 'must not contain a NUL character (\\u0000)' }]);
  });

  it('accepts a folder inside DATA_DIRS or the strategy\'s own, and hands the run the resolved folder', async () => {
    const nested = await execute(server.url, 'fixture_steps', {});
    expect(nested.id).toBeTruthy(); // a strategy without data_dir is untouched
    const accepted = await submit('bullish_strategy', { data_dir: path.join(csvDir, 'nested', '..'), tickers: ['AAPL'], fetch_latency_ms: 0 });
    expect(accepted.status).toBe(202);
    const own = await submit('bullish_strategy', { data_dir: '.', tickers: ['AAPL'], fetch_latency_ms: 0 });
    expect(own.status).toBe(202);
    const status = await api(server.url, `/api/strategies/runs/${own.body.run_id}/status`);
    expect(status.body.parameters.data_dir).toBe(await fs.realpath(STRATEGIES_DIR));
    const runs = [nested.id, accepted.body.run_id, own.body.run_id];
    await Promise.all(runs.map((id) => waitForStatus(server.url, id, ['COMPLETED', 'FAILED'])));
  });

  it('without DATA_DIRS, nothing beyond the strategy\'s own folder', async () => {
    const plain = await startTestServer();
    try {
      const refused = await api(plain.url, '/api/strategies/execute', { json: { strategy: 'bullish_strategy', parameters: { data_dir: csvDir } } });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details[0].message).toBe(
        `"${csvDir}" is outside the allowed folders; runs may read data only inside: ${STRATEGIES_DIR} (the strategy's folder and DATA_DIRS)`,
      );
    } finally {
      await plain.close();
    }
  });
});

it('a ticker whose CSV is missing is skipped with a warning naming it; the run completes with the rest', async () => {
  const run = await execute(server.url, 'bullish_strategy', { data_dir: csvDir, tickers: ['AAPL', 'NVDA', 'MSFT'], fetch_latency_ms: 0, history_days: 300 });
  const done = await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED']);
  expect(done.status, JSON.stringify(done.error)).toBe('COMPLETED');
  expect(done.result).toMatchObject({
    summary: { tickers_screened: 3, tickers_skipped: 1, skipped: [{ ticker: 'NVDA' }], data: { source: 'csv', folder: csvDir } },
  });
  const warnings = (await storedEvents(server.database.url, run.id)).filter((e) => e.event_type === 'log' && e.level === 'warning');
  expect(warnings.map((e) => e.message)).toEqual([`skipped NVDA: ${csvDir}/NVDA.csv: no data file for ticker NVDA`]);
});
