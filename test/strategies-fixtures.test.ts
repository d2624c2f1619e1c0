// The runner's odd-behaviour fixtures (test/fixtures/strategies) are registrable and do what
// their names promise, so a runner test failing on them points at the runner, not the fixture.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const FIXTURES_DIR = fileURLToPath(new URL('./fixtures/strategies', import.meta.url));

interface Manifest {
  name: string;
  command: string[];
  timeout_seconds?: number;
  parameters_schema: { properties: Record<string, { default: unknown }> };
}

const manifests = readdirSync(FIXTURES_DIR)
  .filter((file) => file.endsWith('.strategy.json'))
  .map((file) => ({
    file,
    manifest: JSON.parse(readFileSync(path.join(FIXTURES_DIR, file), 'utf8')) as Manifest,
  }));

async function runFixture(name: string, params?: Record<string, unknown>) {
  const args = params === undefined ? [] : ['--params-json', JSON.stringify(params)];
  const result = await execa('python3', [`${name}.py`, ...args], {
    cwd: FIXTURES_DIR,
    env: { STRATEGY_PROGRESS: 'json' },
    reject: false,
    encoding: 'buffer',
    timeout: 20_000,
  });
  return {
    exitCode: result.exitCode,
    stdout: Buffer.from(result.stdout).toString('utf8'),
    stderr: Buffer.from(result.stderr).toString('utf8'),
  };
}

const jsonLines = (stdout: string) =>
  stdout.split('\n').flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line);
      return value !== null && typeof value === 'object' && !Array.isArray(value)
        ? [value as Record<string, unknown>]
        : [];
    } catch {
      return [];
    }
  });

describe('runner fixtures', () => {
  it('are all there, each with a manifest naming its own script', () => {
    expect(manifests.map((m) => m.manifest.name).sort()).toEqual([
      'fixture_bad_output', 'fixture_clock', 'fixture_crash', 'fixture_env', 'fixture_exit_code', 'fixture_flood',
      'fixture_grandchild', 'fixture_hang', 'fixture_ignore_sigterm', 'fixture_long_line',
      'fixture_quota', 'fixture_steps',
    ]);
    const ajv = new Ajv2020.default({ strict: true, useDefaults: true });
    for (const { file, manifest } of manifests) {
      expect(file).toBe(`${manifest.name}.strategy.json`);
      expect(manifest.command).toEqual(['python3', `${manifest.name}.py`]);
      const validate = ajv.compile(manifest.parameters_schema);
      const filled: Record<string, unknown> = {};
      expect(validate(filled), manifest.name).toBe(true);
    }
    const hang = manifests.find((m) => m.manifest.name === 'fixture_hang');
    expect(hang?.manifest.timeout_seconds).toBe(2);
  });

  it('fixture_steps emits its steps and a result carrying the params', async () => {
    const { exitCode, stdout } = await runFixture('fixture_steps', { steps: 4, delay_ms: 0, fail_at: 0 });
    expect(exitCode).toBe(0);
    const events = jsonLines(stdout);
    expect(events.map((e) => e.progress_percent)).toEqual([25, 50, 75, 100, undefined]);
    expect(events[3]).toMatchObject({ stage: 'work', current_item: 'item-4', completed_items: 4, total_items: 4 });
    expect(events[4]).toEqual({ event_type: 'result', data: { steps: 4, params: { steps: 4, delay_ms: 0, fail_at: 0 } } });
    const failing = await runFixture('fixture_steps', { steps: 5, delay_ms: 0, fail_at: 3 });
    expect(failing.exitCode).toBe(1);
    expect(jsonLines(failing.stdout)).toHaveLength(2);
  });

  it('fixture_crash and fixture_exit_code fail the way they say', async () => {
    const [crash, exit7, exitDefault] = await Promise.all([
      runFixture('fixture_crash'),
      runFixture('fixture_exit_code', { code: 7 }),
      runFixture('fixture_exit_code'),
    ]);
    expect(crash.exitCode).toBe(1);
    expect(crash.stderr).toContain('Traceback');
    expect(jsonLines(crash.stdout).length).toBeGreaterThan(0);
    expect(exit7.exitCode).toBe(7);
    expect(exitDefault.exitCode).toBe(3);
    expect(exitDefault.stderr.split('\n').length).toBeGreaterThan(3);
  });

  it('fixture_bad_output mixes garbage with a final valid result', async () => {
    const { exitCode, stdout, stderr } = await runFixture('fixture_bad_output');
    expect(exitCode).toBe(0);
    expect(stdout).toContain('\uFFFD');
    expect(stderr).toContain('\uFFFD');
    expect(stdout).toContain('[1,2]');
    const events = jsonLines(stdout);
    expect(events.at(-1)).toEqual({ event_type: 'result', data: { ok: true } });
  });

  it('fixture_flood, fixture_long_line and fixture_env finish with a result', async () => {
    const [flood, long, env] = await Promise.all([
      runFixture('fixture_flood', { lines: 1000 }),
      runFixture('fixture_long_line'),
      runFixture('fixture_env'),
    ]);
    expect(flood.exitCode).toBe(0);
    expect(flood.stdout.split('\n')).toHaveLength(1001);
    expect(long.exitCode).toBe(0);
    expect(long.stdout.length).toBeGreaterThan(10 * 1024 * 1024);
    expect(jsonLines(long.stdout).map((e) => e.event_type)).toEqual(['progress', 'result']);
    expect(env.exitCode).toBe(0);
    const names = (jsonLines(env.stdout)[0]?.data as { env_names: string[] }).env_names;
    expect(names).toContain('STRATEGY_PROGRESS');
    expect(names).toEqual([...names].sort());
  });
});
