import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrategyRegistry } from '../src/runner/strategy-registry.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { STRATEGIES_DIR, startTestServer } from './helpers/server.js';

let userDir: string;
beforeAll(async () => {
  userDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-user-strategies-'));
  const write = (name: string, content: string) => fs.writeFile(path.join(userDir, name), content);
  // A user's own strategy, in their own folder, with its schema given by --describe.
  await write(
    'my_momentum.py',
    [
      'import json, sys',
      'if "--describe" in sys.argv:',
      '    print(json.dumps({"type": "object", "additionalProperties": False,',
      '                      "properties": {"lookback": {"type": "integer", "minimum": 1, "default": 20}}}))',
      '    sys.exit(0)',
      'params = json.loads(sys.argv[sys.argv.index("--params-json") + 1])',
      'print(json.dumps({"event_type": "progress", "stage": "work", "progress_percent": 100, "message": "done"}))',
      'print(json.dumps({"event_type": "result", "data": {"lookback": params["lookback"]}}))',
    ].join('\n'),
  );
  await write('my_momentum.strategy.json', JSON.stringify({ name: 'my_momentum', command: ['python3', 'my_momentum.py'] }));
  await write('broken_json.strategy.json', '{ "name": ');
  await write('no_command.strategy.json', JSON.stringify({ name: 'no_command' }));
  await write('bad_schema.strategy.json', JSON.stringify({ name: 'bad_schema', command: ['true'], parameters_schema: { type: 'nonsense' } }));
  await write('bullish_strategy.strategy.json', JSON.stringify({ name: 'bullish_strategy', command: ['true'] }));
  await write(
    'bad_constraint.strategy.json',
    JSON.stringify({ name: 'bad_constraint', command: ['true'], parameters_schema: { type: 'object', properties: { a: { type: 'number' } }, 'x-constraints': [{ lte: ['a', 'b'] }] } }),
  );
  await write(
    'constrained.strategy.json',
    JSON.stringify({
      name: 'constrained',
      command: ['true'],
      parameters_schema: {
        type: 'object',
        properties: { low: { type: 'number', default: 1 }, high: { type: 'number', default: 5 }, from: { type: 'string' }, to: { type: 'string' } },
        'x-constraints': [{ lte: ['low', 'high'] }, { lt: ['from', 'to'], message: 'must come before to' }],
      },
    }),
  );
  await write('describe_fails.strategy.json', JSON.stringify({ name: 'describe_fails', command: ['python3', '-c', 'import sys; sys.exit(3)'] }));
});
afterAll(() => fs.rm(userDir, { recursive: true, force: true }));

describe('StrategyRegistry', () => {
  it('loads every folder, skips broken manifests with a clear reason, keeps the first of a duplicate name', async () => {
    const registry = await StrategyRegistry.load([STRATEGIES_DIR, userDir, '/no/such/folder'], pino({ level: 'silent' }));
    expect(registry.list().map((s) => s.name)).toEqual(['bullish_strategy', 'leap_entry_strategy', 'constrained', 'my_momentum']);
    expect(registry.get('bullish_strategy').directory).toBe(STRATEGIES_DIR);
    const problems = Object.fromEntries(registry.problems.map((p) => [path.basename(p.file), p.message]));
    expect(problems['broken_json.strategy.json']).toMatch(/not valid JSON/);
    expect(problems['no_command.strategy.json']).toMatch(/command/);
    expect(problems['bad_schema.strategy.json']).toMatch(/parameters_schema is not a valid JSON Schema/);
    expect(problems['bullish_strategy.strategy.json']).toMatch(/duplicate strategy name "bullish_strategy"/);
    expect(problems['describe_fails.strategy.json']).toMatch(/--describe` failed/);
    expect(problems['bad_constraint.strategy.json']).toBe('x-constraints.0: "b" is not a parameter of the schema');
    expect(problems['folder']).toMatch(/cannot read folder/);
  });

  it('reads the schema from --describe when the manifest has none, and applies its defaults', async () => {
    const registry = await StrategyRegistry.load([userDir], pino({ level: 'silent' }));
    expect(registry.validateParameters('my_momentum', {})).toEqual({ lookback: 20 });
    expect(() => registry.validateParameters('my_momentum', { lookback: 0 })).toThrow(/parameters.lookback must be >= 1/);
  });

  it('checks x-constraints after the schema, with defaults, reporting each broken one', async () => {
    const registry = await StrategyRegistry.load([userDir], pino({ level: 'silent' }));
    expect(registry.validateParameters('constrained', { low: 5 })).toEqual({ low: 5, high: 5 });
    expect(() => registry.validateParameters('constrained', { low: 6, from: 'b', to: 'a' })).toThrow(
      'Invalid parameters for strategy "constrained": parameters.low must be <= high (5) (got 6); parameters.from must come before to',
    );
    // A value of the wrong type is the schema's to report; the constraint stays quiet.
    expect(() => registry.validateParameters('constrained', { low: 'x' })).toThrow(/parameters.low must be number$/);
  });

  it('a strategy from a second STRATEGIES_DIR folder runs like the bundled ones', async () => {
    const server = await startTestServer({ STRATEGIES_DIR: `${STRATEGIES_DIR}:${userDir}` });
    try {
      const run = await execute(server.url, 'my_momentum', { lookback: 7 });
      const done = await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED']);
      expect(done).toMatchObject({ status: 'COMPLETED', result: { lookback: 7 }, progressPercent: 100 });
    } finally {
      await server.close();
    }
  });
});
