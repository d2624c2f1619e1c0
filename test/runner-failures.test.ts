import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql } from './helpers/graphql.js';
import { execute, getRun, livingProcessesInGroup, runPid, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '2', MAX_LINE_BYTES: String(256 * 1024) });
});
afterAll(() => server.close());

const finished = ['COMPLETED', 'FAILED', 'CANCELLED'];

async function serverAnswers(): Promise<void> {
  const response = await gql<{ strategies: unknown[] }>(server.url, '{ strategies { name } }');
  expect(response.data!.strategies.length).toBeGreaterThan(2);
}

describe('runs that go wrong end in the right status with their reason, and the server stays up', () => {
  it('a crash: FAILED / EXIT_CODE with exit code 1 and the traceback in stderrTail and log events', async () => {
    const run = await execute(server.url, 'fixture_crash');
    const done = await waitForStatus(server.url, run.id, finished);
    expect(done).toMatchObject({ status: 'FAILED', exitCode: 1, error: { code: 'EXIT_CODE' } });
    expect(done.error!.message).toMatch(/exited with code 1: RuntimeError: fixture_crash: deliberate failure/);
    expect(done.error!.stderrTail.join('\n')).toMatch(/Traceback \(most recent call last\)/);
    const events = await storedEvents(server.database.url, run.id);
    expect(events.filter((e) => e.event_type === 'log' && e.level === 'error').map((e) => e.message)).toContain(
      'RuntimeError: fixture_crash: deliberate failure',
    );
    expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'failed', error: { code: 'EXIT_CODE' } });
    await serverAnswers();
  });

  it('a non-zero exit: FAILED with that exit code', async () => {
    const run = await execute(server.url, 'fixture_exit_code', { code: 7 });
    const done = await waitForStatus(server.url, run.id, finished);
    expect(done).toMatchObject({ status: 'FAILED', exitCode: 7, error: { code: 'EXIT_CODE' } });
  });

  it('a hang past its timeout: FAILED / TIMEOUT, process gone', async () => {
    const run = await execute(server.url, 'fixture_hang'); // manifest timeout_seconds: 2
    const pid = await runPid(server.database.url, run.id);
    const done = await waitForStatus(server.url, run.id, finished, 15_000);
    expect(await livingProcessesInGroup(pid)).toEqual([]);
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'TIMEOUT', message: 'Timed out after 2 s' } });
    const started = Date.parse(done.startedAt!);
    expect(Date.parse(done.finishedAt!) - started).toBeGreaterThanOrEqual(2000);
    expect(Date.parse(done.finishedAt!) - started).toBeLessThan(2000 + 1500 + 3000);
  });

  it('a stdout flood of 200,000 lines: every line stored in order, COMPLETED, memory bounded', async () => {
    const before = process.memoryUsage().rss;
    const run = await execute(server.url, 'fixture_flood', { lines: 200_000 });
    const done = await waitForStatus(server.url, run.id, finished, 120_000);
    expect(done.status).toBe('COMPLETED');
    const events = await storedEvents(server.database.url, run.id);
    const fromScript = events.filter((e) => e.event_type !== 'status');
    expect(fromScript.length).toBeGreaterThanOrEqual(200_000);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(process.memoryUsage().rss - before).toBeLessThan(400 * 1024 * 1024);
    await serverAnswers();
  });

  it('a 10 MB line: truncated to the limit and logged, the run goes on to COMPLETED with its result', async () => {
    const before = process.memoryUsage().rss;
    const run = await execute(server.url, 'fixture_long_line');
    const done = await waitForStatus(server.url, run.id, finished, 30_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.result).not.toBeNull();
    const events = await storedEvents(server.database.url, run.id);
    const truncated = events.find((e) => String(e.message ?? '').includes('[line truncated'));
    expect(truncated).toMatchObject({ event_type: 'log', level: 'warning' });
    expect(String(truncated!.message).length).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('invalid UTF-8, non-JSON and odd JSON: become log events; valid lines still count', async () => {
    const run = await execute(server.url, 'fixture_bad_output');
    const done = await waitForStatus(server.url, run.id, finished);
    expect(done).toMatchObject({ status: 'COMPLETED', result: { ok: true } });
    const events = await storedEvents(server.database.url, run.id);
    const logs = events.filter((e) => e.event_type === 'log');
    const messages = logs.map((e) => String(e.message));
    expect(messages).toContain('invalid utf-8 on stdout: \uFFFD\uFFFD\uFFFD( end');
    expect(logs.find((e) => String(e.message).startsWith('invalid utf-8 on stderr'))!.level).toBe('error');
    for (const text of ['plain text that is not JSON', '[1,2]', '42', '"a JSON string"', 'null']) expect(messages).toContain(text);
    expect(messages).toContain('{"event_type":"no_such_event","message":"unknown event type"}');
    expect(events.some((e) => e.event_type === 'progress' && e.progress_percent === 50)).toBe(true);
    expect(messages).not.toContain('');
  });

  it('a command that cannot start: FAILED / SPAWN_FAILED with the reason (run by the one instance that has it)', async () => {
    const { createApp } = await import('../src/app.js');
    const { loadConfig } = await import('../src/config.js');
    const fs = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-spawn-'));
    await fs.writeFile(
      path.join(dir, 'missing_program.strategy.json'),
      JSON.stringify({ name: 'missing_program', command: ['./no-such-program'], parameters_schema: { type: 'object' } }),
    );
    const app = await createApp(loadConfig({ DATABASE_URL: server.database.url, PORT: '0', STRATEGIES_DIR: dir, LOG_LEVEL: 'silent' }));
    try {
      const run = await app.ctx.runner.submit('missing_program', {});
      // The test server shares the database but lacks that manifest: it leaves the run alone.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const waiting = await gql<{ run: { status: string; waitReason: string } }>(
        server.url,
        'query($id: ID!) { run(id: $id) { status waitReason } }',
        { id: run.id },
      );
      expect(waiting.data!.run).toEqual({
        status: 'QUEUED',
        waitReason: 'Strategy "missing_program" is not registered on this server; it starts on an instance that has it (or cancel it)',
      });
      const { url } = await app.listen();
      const done = await waitForStatus(url, run.id, finished);
      expect(done).toMatchObject({ status: 'FAILED', exitCode: null, error: { code: 'SPAWN_FAILED' } });
      expect(done.error!.message).toMatch(/no-such-program.*ENOENT/);
    } finally {
      await app.close();
    }
  });

  it('secrets never reach the child: only an allow-listed environment plus STRATEGY_PROGRESS', async () => {
    process.env.SOME_API_TOKEN = 'secret-value';
    try {
      const run = await execute(server.url, 'fixture_env');
      const done = await waitForStatus(server.url, run.id, finished);
      const names = (done.result as { env_names: string[] }).env_names;
      expect(names).toContain('STRATEGY_PROGRESS');
      expect(names).toContain('PATH');
      for (const secret of ['DATABASE_URL', 'REDIS_URL', 'SOME_API_TOKEN', 'PGPASSWORD']) expect(names).not.toContain(secret);
    } finally {
      delete process.env.SOME_API_TOKEN;
    }
  });

  it('keeps answering while all of the above ran', async () => {
    await serverAnswers();
    expect((await getRun(server.url, '00000000-0000-4000-8000-000000000000'))).toBeNull();
  });
});
