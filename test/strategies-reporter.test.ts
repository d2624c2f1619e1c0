// strategies/progress_reporter.py on its own: silent without STRATEGY_PROGRESS, one JSON line
// per call with it, monotonic percent, JSON-safe output, and never killing the script.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const STRATEGIES_DIR = fileURLToPath(new URL('../strategies', import.meta.url));

interface Event {
  event_type: string;
  timestamp: string;
  stage?: string;
  progress_percent?: number;
  level?: string;
  message?: string;
  metrics?: Record<string, unknown>;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Run a Python snippet with the reporter importable; `json` sets STRATEGY_PROGRESS=json. */
async function py(code: string, json: boolean) {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'STRATEGY_PROGRESS') env[key] = value;
  }
  if (json) env.STRATEGY_PROGRESS = 'json';
  const prelude = `import sys\nsys.path.insert(0, ${JSON.stringify(STRATEGIES_DIR)})\nfrom progress_reporter import ProgressReporter\n`;
  const result = await execa('python3', ['-c', prelude + code], {
    env,
    extendEnv: false,
    reject: false,
    cwd: path.dirname(STRATEGIES_DIR),
  });
  return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

const lines = (stdout: string): Event[] =>
  stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Event);

const EVERY_CALL = `
r = ProgressReporter()
with r.stage("initialization"):
    r.report_progress("initialization", 5, "init", metrics={"a": 1})
r.start_stage("work", 10)
r.report_progress(None, 50, "half", current_item="AAPL", total_items=2, completed_items=1)
r.log("an info line")
r.log("a warning line", level="warning")
r.result({"answer": 42})
print("script output", flush=True)
`;

describe('ProgressReporter', () => {
  it('writes nothing to stdout without STRATEGY_PROGRESS (and no progress on a non-TTY stderr)', async () => {
    const { exitCode, stdout, stderr } = await py(EVERY_CALL, false);
    expect(exitCode).toBe(0);
    expect(stdout).toBe('script output');
    expect(stderr).toBe('[warning] a warning line'); // warnings still reach the operator
  });

  it('writes one JSON line per call with STRATEGY_PROGRESS=json, None fields omitted', async () => {
    const { exitCode, stdout, stderr } = await py(EVERY_CALL, true);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    const raw = stdout.split('\n');
    expect(raw.at(-1)).toBe('script output');
    const events = lines(raw.slice(0, -1).join('\n'));
    expect(events.map((e) => e.event_type)).toEqual([
      'progress', 'progress', 'progress', 'progress', 'log', 'log', 'result',
    ]);
    for (const event of events) {
      expect(event.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(events[1]).toEqual({
      event_type: 'progress', timestamp: events[1]?.timestamp, stage: 'initialization',
      progress_percent: 5, message: 'init', metrics: { a: 1 },
    });
    expect(events[3]).toMatchObject({
      stage: 'work', progress_percent: 50, current_item: 'AAPL', total_items: 2, completed_items: 1,
    });
    expect(Object.keys(events[2] ?? {}).sort()).toEqual(
      ['event_type', 'message', 'progress_percent', 'stage', 'timestamp'],
    );
    expect(events[5]).toMatchObject({ event_type: 'log', level: 'warning', message: 'a warning line' });
    expect(events[6]?.data).toEqual({ answer: 42 });
    expect(raw[0]).not.toMatch(/": /); // compact separators
  });

  it('never lets progress_percent decrease, clamps to 0..100 with a warning', async () => {
    const { stdout } = await py(`
r = ProgressReporter(min_interval=0)  # every call written: this is about the values
for p in [10, 50, 30, 120, -5, float("nan"), "abc", None, 99.999]:
    r.report_progress("s", p, "m")
`, true);
    const events = lines(stdout);
    const percents = events.filter((e) => e.event_type === 'progress').map((e) => e.progress_percent);
    expect(percents).toEqual([10, 50, 50, 100, 100, 100, 100, 100, 100]);
    const warnings = events.filter((e) => e.event_type === 'log').map((e) => e.level);
    expect(warnings).toEqual(['warning', 'warning', 'warning', 'warning', 'warning']);
  });

  it('turns NaN/Infinity into null and non-JSON values into something safe', async () => {
    const { exitCode, stdout, stderr } = await py(`
import datetime, decimal
class Thing:
    def __str__(self): return "a thing"
r = ProgressReporter()
r.report_progress("s", 1, "m", metrics={"nan": float("nan"), "inf": float("inf"), "ok": 1.5})
r.result({"nan": float("nan"), "neg_inf": float("-inf"), "nested": [float("nan"), {"x": float("inf")}],
          "when": datetime.date(2024, 1, 2), "dec": decimal.Decimal("1.25"), "set": {3},
          "tuple": (1, 2), "thing": Thing(), "bytes": b"\\xffok", 7: "int key"})
`, true);
    expect(exitCode).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).not.toMatch(/NaN|Infinity/);
    const [progress, result] = lines(stdout);
    expect(progress?.metrics).toEqual({ nan: null, inf: null, ok: 1.5 });
    expect(result?.data).toEqual({
      nan: null, neg_inf: null, nested: [null, { x: null }], when: '2024-01-02', dec: 1.25,
      set: [3], tuple: [1, 2], thing: 'a thing', bytes: '\uFFFDok', '7': 'int key',
    });
  });

  it('survives a reader that went away (BrokenPipe) without noise or a changed exit code', async () => {
    const { exitCode, stdout, stderr } = await py(`
import os
r_fd, w_fd = os.pipe()
os.close(r_fd)
os.dup2(w_fd, 1)
r = ProgressReporter()
for i in range(1000):
    r.report_progress("s", i / 10, "x" * 100)
r.log("still here")
r.result({"done": True})
sys.stderr.write("survived\\n")
`, true);
    expect(stdout).toBe('');
    expect(stderr).toBe('survived');
    expect(exitCode).toBe(0);
  });

  it('survives streams that fail to write, encode or are closed', async () => {
    const { exitCode, stderr } = await py(`
import io
class Failing(io.StringIO):
    def __init__(self, exc): super().__init__(); self.exc = exc
    def write(self, s): raise self.exc
for exc in [OSError(5, "EIO"), UnicodeEncodeError("ascii", "x", 0, 1, "nope"), ValueError("closed")]:
    r = ProgressReporter(mode="json", stream=Failing(exc))
    r.report_progress("s", 1, "m"); r.log("l"); r.result({"a": 1})
closed = io.StringIO(); closed.close()
r = ProgressReporter(mode="json", stream=closed)
r.report_progress("s", 1, "m"); r.result({"a": 1})
sys.stdout.close()
r = ProgressReporter()
r.report_progress("s", 1, "m"); r.result({"a": 1})
sys.stderr.write("survived\\n")
`, true);
    expect(stderr).toBe('survived');
    expect(exitCode).toBe(0);
  });

  it('shows human-readable progress on stderr when it is a terminal', async () => {
    const { stdout, stderr } = await py(`
import io
class Tty(io.StringIO):
    def isatty(self): return True
err = Tty()
r = ProgressReporter(err_stream=err)
r.report_progress("analysis", 42, "Analysing AAPL", completed_items=3, total_items=7)
r.log("hello")
sys.stderr.write(err.getvalue())
`, false);
    expect(stdout).toBe('');
    expect(stderr).toContain('[analysis]  42.00% (3/7) Analysing AAPL');
    expect(stderr).toContain('[info] hello');
  });

  it('wraps a non-object result and keeps one JSON line per call', async () => {
    const { stdout } = await py(`
r = ProgressReporter()
r.result([1, 2])
`, true);
    const events = lines(stdout);
    expect(events.map((e) => e.event_type)).toEqual(['log', 'result']);
    expect(events[1]?.data).toEqual({ value: [1, 2] });
  });
});

describe('ProgressReporter coalescing (JSON mode)', () => {
  const progressOf = (events: Event[]) => events.filter((e) => e.event_type === 'progress');

  it('writes a flood of progress calls at most every 100 ms, first and last state included', async () => {
    const { exitCode, stdout, stderr } = await py(`
import time
r = ProgressReporter()
began = time.monotonic()
for i in range(1, 20001):
    r.report_progress("work", i / 201, f"step {i}", completed_items=i, total_items=20000)
sys.stderr.write(f"{time.monotonic() - began}\\n")
`, true);
    expect(exitCode).toBe(0);
    const elapsed = Number(stderr.trim());
    const events = progressOf(lines(stdout));
    expect(events[0]).toMatchObject({ message: 'step 1', completed_items: 1 });
    // The last call is held back, then written at exit: the final state is never lost.
    expect(events.at(-1)).toMatchObject({ message: 'step 20000', completed_items: 20000 });
    expect(events.length).toBeLessThanOrEqual(Math.ceil(elapsed / 0.1) + 3);
    expect(events.length).toBeLessThan(200);
    const done = events.map((e) => e.completed_items as number);
    expect(done).toEqual([...done].sort((a, b) => a - b));
  });

  it('never drops a stage change: each stage\'s first and last state are written, in order', async () => {
    const { stdout } = await py(`
r = ProgressReporter()
for n, stage in enumerate(["download", "analysis", "ranking"]):
    with r.stage(stage, n * 30):
        for i in range(1, 1001):
            r.report_progress(None, n * 30 + i * 0.03, f"{stage} {i}")
`, true);
    const events = progressOf(lines(stdout));
    const stages = events.map((e) => e.stage);
    expect([...new Set(stages)]).toEqual(['download', 'analysis', 'ranking']);
    for (const stage of ['download', 'analysis', 'ranking']) {
      const own = events.filter((e) => e.stage === stage);
      expect(own[0]?.message).toBe(`Starting ${stage}`);
      expect(own.at(-1)?.message).toBe(`${stage} 1000`);
    }
    // Stages never interleave: once a stage is left, it does not come back.
    expect(stages).toEqual([...stages].sort((a, b) => ['download', 'analysis', 'ranking'].indexOf(a!) - ['download', 'analysis', 'ranking'].indexOf(b!)));
  });

  it('writes the first 100 % at once, and every log line and the result in order after the held-back progress', async () => {
    const { stdout } = await py(`
r = ProgressReporter()
for i in range(1, 501):
    r.report_progress("work", i / 10, f"step {i}")
    if i % 10 == 0:
        r.log(f"log {i}", level="warning" if i % 20 == 0 else "info")
r.report_progress("work", 100, "complete")
sys.stdout.write("MARK\\n"); sys.stdout.flush()
r.result({"ok": True})
`, true);
    const raw = stdout.split('\n');
    const mark = raw.indexOf('MARK');
    const before = lines(raw.slice(0, mark).join('\n'));
    const after = lines(raw.slice(mark + 1).join('\n'));
    expect(before.at(-1)).toMatchObject({ event_type: 'progress', progress_percent: 100, message: 'complete' });
    expect(after.map((e) => e.event_type)).toEqual(['result']);
    const logs = before.filter((e) => e.event_type === 'log');
    expect(logs.map((e) => e.message)).toEqual(Array.from({ length: 50 }, (_, k) => `log ${(k + 1) * 10}`));
    // The progress reported just before each log is written before it, not lost or reordered.
    before.forEach((event, index) => {
      if (event.event_type !== 'log') return;
      expect(before[index - 1]).toMatchObject({ event_type: 'progress', message: `step ${event.message!.slice(4)}` });
    });
  });

  it('writes a held-back progress line within the interval while the script is busy', async () => {
    const { stdout } = await py(`
import time
r = ProgressReporter()
r.report_progress("work", 1, "first")
r.report_progress("work", 2, "second, held back")
time.sleep(0.6)  # busy (or waiting on the network): nothing else is written meanwhile
sys.stdout.write("MARK\\n"); sys.stdout.flush()
`, true);
    expect(stdout.split('\n').map((line) => (line.startsWith('{') ? (JSON.parse(line) as Event).message : line))).toEqual([
      'first', 'second, held back', 'MARK',
    ]);
  });

  it('writes every call with min_interval=0 or STRATEGY_PROGRESS_MIN_INTERVAL=0', async () => {
    const code = (arg: string) => `
r = ProgressReporter(${arg})
for i in range(1, 101):
    r.report_progress("work", i, f"step {i}")
`;
    const direct = await py(code('min_interval=0'), true);
    expect(progressOf(lines(direct.stdout))).toHaveLength(100);
    const viaEnv = await py(`import os\nos.environ["STRATEGY_PROGRESS_MIN_INTERVAL"] = "0"\n${code('')}`, true);
    expect(progressOf(lines(viaEnv.stdout))).toHaveLength(100);
  });
});

describe('README "Writing a strategy" example', () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const script = /## Writing a strategy[\s\S]*?```python\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

  it('is a complete script of under 20 lines that speaks the protocol', async () => {
    expect(script.trim().split('\n').length).toBeLessThan(20);
    const run = (json: boolean) => py(`sys.argv = ["example", "--params-json", '{"names": ["A", "BB"]}']\n${script}`, json);
    const [byHand, byRunner] = await Promise.all([run(false), run(true)]);
    expect(byHand.exitCode).toBe(0);
    expect(JSON.parse(byHand.stdout)).toEqual({ greeted: ['A', 'BB'] });
    const events = lines(byRunner.stdout);
    expect(events.at(-1)?.data).toEqual({ greeted: ['A', 'BB'] });
    expect(events.filter((e) => e.event_type === 'progress').at(-1)?.progress_percent).toBe(100);
  });
});
