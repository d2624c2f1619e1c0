import net from 'node:net';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { CLI_BIN, runCli, startCli, startCuttingProxy } from './helpers/cli.js';
import { storedEvents, waitForStatus } from './helpers/runs.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await startTestServer();
  env = { STRATEGY_RUNNER_URL: server.url };
});
afterAll(() => server.close());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** A stack frame ("    at fn (file:1:2)") in output would mean an unhandled crash. */
const STACK = /^\s+at .+:\d+/m;

async function queue(strategy: string, parameters: Record<string, unknown>): Promise<string> {
  const { status, body } = await api(server.url, '/api/strategies/execute', { json: { strategy, parameters } });
  expect(status).toBe(202);
  return body.run_id as string;
}

/** The seq of each plain line (`#7 progress …`) or JSON line. */
const seqsOf = (stdout: string) =>
  stdout
    .split('\n')
    .map((line) => (line.startsWith('{') ? (JSON.parse(line) as { seq: number }).seq : Number(/^#(\d+) /.exec(line)?.[1])))
    .filter((seq) => Number.isInteger(seq));

describe('strategy-runner CLI against a real server', () => {
  it('strategies: a readable list, and --json for scripts', async () => {
    const plain = await runCli(['strategies'], env);
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain('fixture_steps\n  Test fixture');
    expect(plain.stdout).toContain('--set steps=<integer>  (default 10)');
    const json = await runCli(['strategies', '--json'], env);
    expect(json.exitCode).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual((await api(server.url, '/api/strategies')).body);
  });

  it('run --set: values typed by the schema (numbers, booleans, lists), the run queued', async () => {
    const result = await runCli(
      ['run', 'bullish_strategy', '--set', 'tickers=AAPL,MSFT', '--set', 'require_uptrend=false', '--set', 'min_price=7.5', '--set', 'top_n=3', '--json'],
      env,
    );
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer).toMatchObject({ run_id: expect.stringMatching(UUID), status: 'queued' });
    const { body } = await api(server.url, `/api/strategies/runs/${answer.run_id}/status`);
    expect(body.parameters).toMatchObject({ tickers: ['AAPL', 'MSFT'], require_uptrend: false, min_price: 7.5, top_n: 3 });

    // --idempotency-key: the same key twice is the same run.
    const keyed = ['run', 'fixture_steps', '--set', 'steps=1', '--idempotency-key', 'cli-key-1', '--json'];
    const [once, twice] = [await runCli(keyed, env), await runCli(keyed, env)];
    expect(JSON.parse(twice.stdout).run_id).toBe(JSON.parse(once.stdout).run_id);

    const plain = await runCli(['run', 'fixture_steps', '--set', 'steps=1', '--set', 'delay_ms=0'], env);
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toMatch(/^Queued run [0-9a-f-]{36} \(fixture_steps\); follow it with: strategy-runner watch [0-9a-f-]{36}\n$/);
  });

  it('run --watch, piped: one plain line per event, each once and in order, exit 0 when completed', async () => {
    const result = await runCli(['run', 'fixture_steps', '--set', 'steps=4', '--set', 'delay_ms=30', '--watch'], env);
    expect(result.exitCode).toBe(0);
    const runId = UUID.exec(result.stdout)![0];
    const stored = await storedEvents(server.database.url, runId);
    expect(seqsOf(result.stdout)).toEqual(stored.map((e) => e.seq));
    const lines = result.stdout.split('\n');
    expect(lines).toContain('#1 status queued Queued');
    expect(lines.some((line) => /^#\d+ progress work 25\.0% item-1 1\/4 step 1 of 4$/.test(line))).toBe(true);
    expect(lines.some((line) => /^#\d+ progress work 100\.0% item-4 4\/4 [\d.]+\/s ETA \d\d:\d\d:\d\d step 4 of 4$/.test(line))).toBe(true);
    expect(lines).toContain(`#${stored.length} status completed Completed`);
    expect(result.stdout).toMatch(new RegExp(`Run ${runId} completed in \\d+\\.\\d s\\.\\n$`));
    expect(result.stdout).not.toContain('\x1b[');
  });

  it('watch exits 1 when the run fails, with the reason and the stderr tail', async () => {
    const runId = await queue('fixture_exit_code', { code: 3 });
    const result = await runCli(['watch', runId], env);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('status failed');
    expect(result.stdout).toContain(`Run ${runId} failed`);
    expect(result.stdout).toContain('EXIT_CODE: The strategy exited with code 3');
    expect(result.stdout).toContain('  | exiting with code 3');
  });

  it('watch exits 130 when the run is cancelled (by `cancel`)', async () => {
    const runId = await queue('fixture_steps', { steps: 200, delay_ms: 100 });
    const watching = startCli(['watch', runId], env);
    let seen = '';
    watching.stdout!.on('data', (chunk: Buffer) => void (seen += chunk.toString()));
    await waitFor(() => (seen.includes('status running') ? true : undefined), 20_000, 'the watch to see the run start');
    const cancel = await runCli(['cancel', runId], env);
    expect(cancel.exitCode).toBe(0);
    expect(cancel.stdout).toMatch(new RegExp(`^Run ${runId}: (cancelling|cancelled)\\n$`));
    const watched = await watching;
    expect(watched.exitCode).toBe(130);
    expect(String(watched.stdout)).toContain('status cancelled');
    expect(String(watched.stdout)).toContain(`Run ${runId} was cancelled`);
    // Cancelling a finished run is refused, with the reason.
    const again = await runCli(['cancel', runId], env);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/^error: Run .* has already finished \(cancelled\)/);
  });

  it('runs --status --strategy filters; --json gives the API page', async () => {
    const runId = await queue('fixture_steps', { steps: 1, delay_ms: 0 });
    await waitForStatus(server.url, runId, ['COMPLETED']);
    const plain = await runCli(['runs', '--status', 'completed', '--strategy', 'fixture_steps'], env);
    expect(plain.exitCode).toBe(0);
    const rows = plain.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^RUN ID\s+STRATEGY\s+STATUS\s+PROGRESS\s+CREATED$/);
    expect(rows.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(rows.slice(1).every((row) => /^[0-9a-f-]{36}  fixture_steps\s+completed\s+100\.0%  \d{4}-/.test(row))).toBe(true);
    expect(rows.some((row) => row.startsWith(runId))).toBe(true);

    const json = JSON.parse((await runCli(['runs', '--status', 'failed', '--json'], env)).stdout);
    expect(json.runs.length).toBeGreaterThanOrEqual(1);
    expect(json.runs.every((run: { status: string }) => run.status === 'failed')).toBe(true);
  });

  it('logs prints the run’s log lines; logs --follow prints new ones until the run ends', async () => {
    const failed = await queue('fixture_exit_code', { code: 4 });
    await waitForStatus(server.url, failed, ['FAILED']);
    const logs = await runCli(['logs', failed], env);
    expect(logs.exitCode).toBe(0);
    const lines = logs.stdout.trim().split('\n');
    expect(lines.map((line) => line.replace(/^\S+ /, ''))).toEqual([
      ...[1, 2, 3, 4, 5].map((i) => `error   stderr line ${i} of 5`),
      'error   exiting with code 4',
    ]);

    const slow = await queue('fixture_steps', { steps: 10, delay_ms: 100, fail_at: 8 });
    const followed = await runCli(['logs', slow, '--follow'], env);
    expect(followed.exitCode).toBe(0);
    expect(followed.stdout).toMatch(/^\S+ error   fixture_steps: failing at step 8 as asked\n$/);
    expect((await api(server.url, `/api/strategies/runs/${slow}/status`)).body.status).toBe('failed');
  });

  it('clear errors and non-zero exits, never a stack trace', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const cases: Array<[string[], Record<string, string>, number, RegExp]> = [
      [['run', 'no_such_strategy'], env, 2, /^error: Unknown strategy "no_such_strategy"\. Registered: .*fixture_steps/],
      [['run', 'fixture_steps', '--set', 'steps=abc'], env, 2, /^error: --set steps: expected a whole number, got "abc"\n$/],
      [['run', 'fixture_steps', '--set', 'delay_ms=fast'], env, 2, /^error: --set delay_ms: expected a number, got "fast"\n$/],
      [['run', 'fixture_steps', '--set', 'speed=3'], env, 2, /^error: --set speed: fixture_steps has no parameter "speed" \(it has: steps, delay_ms, fail_at\)\n$/],
      [['run', 'fixture_steps', '--set', 'steps'], env, 2, /^error: --set "steps": expected key=value\n$/],
      [['run', 'fixture_steps', '--set', 'steps=0'], env, 2, /^error: Invalid parameters .*\n {2}- parameters\.steps: must be >= 1\n$/],
      [['watch', '00000000-0000-4000-8000-000000000000'], env, 2, /^error: No run with id "00000000-0000-4000-8000-000000000000"\n$/],
      [['strategies'], { STRATEGY_RUNNER_URL: `http://127.0.0.1:${closedPort}` }, 3, new RegExp(`^error: Cannot reach the server at http://127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\)\\. Is it running\\?`)],
      [['strategies', '--url', 'not a url'], {}, 2, /^error: --url "not a url" is not an http\(s\) URL\n$/],
      [['frobnicate'], env, 2, /^error: unknown command 'frobnicate'/],
    ];
    for (const [args, caseEnv, code, message] of cases) {
      const result = await runCli(args, caseEnv);
      expect({ args, exitCode: result.exitCode, stderr: result.stderr }).toEqual({ args, exitCode: code, stderr: expect.stringMatching(message) });
      expect(result.stderr).not.toMatch(STACK);
    }
  });

  it('draws a live bar on a terminal (pseudo-terminal): stage, %, item, done/total, rate, ETA, redrawn in place', async () => {
    const result = await execa(
      'python3',
      ['test/helpers/pty-run.py', '120', 'node', CLI_BIN, 'run', 'fixture_steps', '--set', 'steps=5', '--set', 'delay_ms=400', '--watch'],
      { cwd: ROOT, env: { ...env, STRATEGY_RUNNER_TOKEN: '' }, reject: false, timeout: 60_000, stripFinalNewline: false },
    );
    expect(result.exitCode).toBe(0);
    const screen = String(result.stdout);
    const frames = screen.split('\r\x1b[2K').slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(4);
    // A frame mid-run: status, stage, the bar, percent, current item, done of total, rate, ETA.
    const midRun = frames.filter((f) => /^running\s+work {2}[█░]{24} +\d+\.\d% {2}item-[2-5] {2}[2-5]\/5 {2}[\d.]+\/s {2}ETA \d\d:\d\d:\d\d$/.test(f));
    expect(midRun.length).toBeGreaterThanOrEqual(1);
    // The bar's filled part is the percent, of 24 cells.
    for (const frame of midRun) {
      const percent = Number(/ (\d+\.\d)% /.exec(frame)![1]);
      expect(frame.match(/█/g)!.length).toBe(Math.round((24 * percent) / 100));
    }
    expect(frames.at(-1)).toMatch(/^completed\s+work {2}█{24} {2}100\.0% {2}item-5 {2}5\/5 .*\r\n/);
    expect(screen).toMatch(/Run [0-9a-f-]{36} completed in \d+\.\d s\.\r\n$/);
    // No plain event lines on a terminal.
    expect(screen).not.toMatch(/#\d+ progress/);
  });

  it('resumes after a dropped connection with no gap and no duplicate, and sends the token without printing it', async () => {
    const proxy = await startCuttingProxy(server.url);
    try {
      const runId = await queue('fixture_steps', { steps: 60, delay_ms: 100 });
      const token = 'secret-token-for-the-cli-test';
      const watching = startCli(['watch', runId, '--json', '--url', proxy.url, '--token', token]);
      let seen = '';
      watching.stdout!.on('data', (chunk: Buffer) => void (seen += chunk.toString()));
      await waitFor(() => (seqsOf(seen).length >= 5 ? true : undefined), 20_000, 'some events before the cut');
      expect(proxy.cut()).toBeGreaterThan(0);
      const before = seqsOf(seen).length;
      const result = await watching;
      expect(result.exitCode).toBe(0);
      const seqs = seqsOf(String(result.stdout));
      const stored = await storedEvents(server.database.url, runId);
      expect(seqs).toEqual(stored.map((e) => e.seq));
      expect(seqs.length).toBeGreaterThan(before);
      expect(String(result.stderr)).toMatch(/connection lost; resuming after event \d+ \(attempt 1\)/);
      // The token went to the server on every connection, and nowhere else.
      expect(proxy.sent().match(new RegExp(`authorization: Bearer ${token}`, 'gi'))!.length).toBeGreaterThanOrEqual(2);
      expect(String(result.stdout) + String(result.stderr)).not.toContain(token);
    } finally {
      await proxy.close();
    }
  });

  it('npm run cli -- … runs the same command from the checkout', async () => {
    const result = await execa('npm', ['run', '--silent', 'cli', '--', 'strategies', '--json'], { cwd: ROOT, env, reject: false });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(String(result.stdout)).map((s: { name: string }) => s.name)).toContain('fixture_steps');
  });
});
