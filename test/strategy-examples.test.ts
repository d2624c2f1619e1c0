// Strategies in any folder and any language, through the service (real subprocesses, real HTTP):
// the README's examples, and a Python strategy outside strategies/ using the bundled reporter.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORTER_PYTHONPATH } from '../src/runner/child-process.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';

const EXAMPLES = ['hello_python', 'hello_node', 'hello_bash'].map((name) => path.join(ROOT, 'examples', name));
const finished = ['COMPLETED', 'FAILED', 'CANCELLED'];

let server: TestServer;
let userDir: string;
let userLibDir: string;
const savedPythonPath = process.env.PYTHONPATH;

beforeAll(async () => {
  userDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-anywhere-'));
  userLibDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-user-lib-'));
  // The user's own PYTHONPATH, which must come before the bundled reporter's folder.
  await fs.writeFile(path.join(userLibDir, 'user_lib.py'), 'GREETING = "from the user\'s PYTHONPATH"\n');
  process.env.PYTHONPATH = userLibDir;
  await fs.writeFile(
    path.join(userDir, 'anywhere.py'),
    [
      'import logging, sys, warnings',
      'import progress_reporter, user_lib',
      'from progress_reporter import ProgressReporter',
      'logging.basicConfig(level=logging.INFO)',
      'reporter = ProgressReporter()',
      'reporter.report_progress("work", 50, "half way")',
      'logging.warning("python logging warning")',
      'logging.info("python logging info")',
      'print("[debug] a tagged line", file=sys.stderr, flush=True)',
      'warnings.warn("old API")',
      'print("an untagged stderr line", file=sys.stderr, flush=True)',
      'reporter.log("a reporter warning", level="warning")',
      'reporter.result({"reporter": progress_reporter.__file__, "user_lib": user_lib.GREETING,',
      '                 "path": [p for p in sys.path if p]})',
    ].join('\n'),
  );
  await fs.writeFile(
    path.join(userDir, 'anywhere.strategy.json'),
    JSON.stringify({ name: 'anywhere', command: ['python3', 'anywhere.py'], parameters_schema: { type: 'object' } }),
  );
  server = await startTestServer({ STRATEGIES_DIR: [...EXAMPLES, userDir].join(':') });
});
afterAll(async () => {
  if (savedPythonPath === undefined) delete process.env.PYTHONPATH;
  else process.env.PYTHONPATH = savedPythonPath;
  await server?.close();
  await fs.rm(userDir, { recursive: true, force: true });
  await fs.rm(userLibDir, { recursive: true, force: true });
});

async function runToEnd(strategy: string, parameters: Record<string, unknown> = {}) {
  const run = await execute(server.url, strategy, parameters);
  const done = await waitForStatus(server.url, run.id, finished);
  const events = await storedEvents(server.database.url, run.id);
  const logs = events.filter((e) => e.event_type === 'log').map((e) => [e.level, e.message]);
  return { done, events, logs };
}

describe('a Python strategy outside strategies/', () => {
  it('imports the bundled reporter with no set-up, after the user\'s own PYTHONPATH', async () => {
    const { done } = await runToEnd('anywhere');
    expect(done.status, JSON.stringify(done.error)).toBe('COMPLETED');
    const result = done.result as { reporter: string; user_lib: string; path: string[] };
    expect(result.user_lib).toBe("from the user's PYTHONPATH");
    expect(path.dirname(result.reporter)).toBe(REPORTER_PYTHONPATH);
    expect(result.path.indexOf(userLibDir)).toBeLessThan(result.path.indexOf(REPORTER_PYTHONPATH));
    // Only the reporter is added: the screeners' helper modules (params, screener…) cannot shadow a user's.
    expect(result.path).not.toContain(path.join(ROOT, 'strategies'));
    expect((await fs.readdir(REPORTER_PYTHONPATH)).filter((f) => f !== '__pycache__')).toEqual(['progress_reporter.py']);
    // One file, the bundled one: a copy an author takes is the same reporter.
    expect(await fs.realpath(result.reporter)).toBe(path.join(ROOT, 'strategies', 'progress_reporter.py'));
  });

  it('gets log levels that mean something: stderr is an error unless the line says otherwise', async () => {
    const { done, logs } = await runToEnd('anywhere');
    expect(done.status).toBe('COMPLETED');
    // stdout (the reporter) and stderr are two pipes: their relative order is not kept.
    const bySource = (a: unknown[], b: unknown[]) => String(a[1]).localeCompare(String(b[1]));
    expect(logs.sort(bySource)).toEqual([
      ['warning', 'WARNING:root:python logging warning'],
      ['info', 'INFO:root:python logging info'],
      ['debug', '[debug] a tagged line'],
      ['warning', `${userDir}/anywhere.py:10: UserWarning: old API`],
      ['warning', '  warnings.warn("old API")'],
      ['error', 'an untagged stderr line'],
      ['warning', 'a reporter warning'],
    ].sort(bySource));
  });
});

describe("the README's examples, through the service", () => {
  it('hello_python', async () => {
    const { done, events, logs } = await runToEnd('hello_python', { names: ['Ada', 'Grace'] });
    expect(done).toMatchObject({ status: 'COMPLETED', progressPercent: 100, result: { greeted: ['Ada', 'Grace'] } });
    // The reporter coalesces progress (at most one line per 100 ms): the last greeting always comes through.
    const greetings = events.filter((e) => e.current_item).map((e) => e.message);
    expect(greetings.at(-1)).toBe('Hello, Grace!');
    expect(greetings.every((message) => message === 'Hello, Ada!' || message === 'Hello, Grace!')).toBe(true);
    expect(logs).toEqual([['info', 'greeted 2 name(s)']]);
  });

  it('hello_node', async () => {
    const { done, events, logs } = await runToEnd('hello_node', { count: 4 });
    expect(done).toMatchObject({ status: 'COMPLETED', progressPercent: 100, result: { counted: 4 } });
    expect(events.filter((e) => e.event_type === 'progress').map((e) => e.progress_percent)).toEqual([25, 50, 75, 100]);
    expect(logs).toEqual([['warning', 'counting is all this example does']]);
  });

  it('hello_bash', async () => {
    const { done, events, logs } = await runToEnd('hello_bash', { count: 2 });
    expect(done).toMatchObject({ status: 'COMPLETED', progressPercent: 100, result: { counted: 2 } });
    expect(events.filter((e) => e.event_type === 'progress').map((e) => e.message)).toEqual(['Counted 1', 'Counted 2']);
    expect(logs).toEqual([['warning', '[warning] counting is all this example does']]);
  });

  it('each stays under 20 lines, as the README shows it', async () => {
    for (const [dir, file] of [[EXAMPLES[0], 'hello_python.py'], [EXAMPLES[1], 'hello_node.mjs'], [EXAMPLES[2], 'hello_bash.sh']] as const) {
      const text = await fs.readFile(path.join(dir!, file), 'utf8');
      expect(text.trimEnd().split('\n').length, file).toBeLessThan(20);
      const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
      expect(readme, `README shows ${file}`).toContain(text.trimEnd());
    }
  });
});
