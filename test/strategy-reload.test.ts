// Manifests added, changed, broken and removed while the server runs are picked up without a
// restart; a run queued before a change keeps the command it was queued with.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let dir: string;

/** A manifest whose command prints `version` as its result. */
const manifest = (name: string, version: number, description = `version ${version}`) =>
  JSON.stringify({
    name,
    description,
    command: ['python3', '-c', `import json; print(json.dumps({"event_type": "result", "data": {"version": ${version}}}))`],
    parameters_schema: { type: 'object', additionalProperties: false },
  });

const write = (file: string, text: string) => fs.writeFile(path.join(dir, file), text);

async function strategies(): Promise<Map<string, string>> {
  const { body } = await api<Array<{ name: string; description: string }>>(server.url, '/api/strategies');
  return new Map(body.map((s) => [s.name, s.description]));
}

/** Waits until the listed strategies satisfy `check` (the watcher is debounced). */
const until = (what: string, check: (list: Map<string, string>) => boolean) =>
  waitFor(async () => (check(await strategies()) ? true : undefined), 10_000, what);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-reload-'));
  await write(
    'blocker.strategy.json',
    JSON.stringify({ name: 'blocker', command: ['python3', '-c', 'import time; time.sleep(60)'], parameters_schema: { type: 'object' } }),
  );
  server = await startTestServer({ STRATEGIES_DIR: dir, MAX_CONCURRENT_RUNS: '1' });
});
afterAll(async () => {
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

it('picks up a manifest added while the server runs, and runs it', async () => {
  expect([...(await strategies()).keys()]).toEqual(['blocker']);
  await write('added.strategy.json', manifest('added', 1));
  await until('the new manifest', (list) => list.has('added'));
  const run = await execute(server.url, 'added');
  expect(await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED'])).toMatchObject({ status: 'COMPLETED', result: { version: 1 } });
});

it('a changed manifest applies to new runs; a run queued before keeps its command', async () => {
  await write('changing.strategy.json', manifest('changing', 1));
  await until('changing v1', (list) => list.get('changing') === 'version 1');
  const blocker = await execute(server.url, 'blocker');
  await waitForStatus(server.url, blocker.id, ['RUNNING']);
  const queuedBefore = await execute(server.url, 'changing');

  await write('changing.strategy.json', manifest('changing', 2));
  await until('changing v2', (list) => list.get('changing') === 'version 2');
  const queuedAfter = await execute(server.url, 'changing');

  await api(server.url, `/api/strategies/runs/${blocker.id}/cancel`, { method: 'POST', json: {} });
  const [before, after] = await Promise.all([
    waitForStatus(server.url, queuedBefore.id, ['COMPLETED', 'FAILED']),
    waitForStatus(server.url, queuedAfter.id, ['COMPLETED', 'FAILED']),
  ]);
  expect(before).toMatchObject({ status: 'COMPLETED', result: { version: 1 } });
  expect(after).toMatchObject({ status: 'COMPLETED', result: { version: 2 } });
});

it('a manifest that breaks is reported and its previous version stays registered', async () => {
  await write('fragile.strategy.json', manifest('fragile', 1));
  await until('fragile v1', (list) => list.has('fragile'));
  await write('fragile.strategy.json', '{ "name": "fragile", ');
  const registry = server.app.ctx.runner.registry;
  const problem = await waitFor(() => registry.problems.find((p) => p.file.endsWith('fragile.strategy.json')), 10_000, 'the problem report');
  expect(problem.message).toMatch(/not valid JSON.*\(its previous version stays registered\)/);
  expect((await strategies()).get('fragile')).toBe('version 1');
  const run = await execute(server.url, 'fragile');
  expect(await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED'])).toMatchObject({ status: 'COMPLETED', result: { version: 1 } });

  await write('fragile.strategy.json', manifest('fragile', 3));
  await until('fragile fixed', (list) => list.get('fragile') === 'version 3');
  expect(registry.problems).toEqual([]);
});

it('a removed manifest is gone: its strategy no longer listed nor accepted', async () => {
  await write('doomed.strategy.json', manifest('doomed', 1));
  await until('doomed', (list) => list.has('doomed'));
  await fs.rm(path.join(dir, 'doomed.strategy.json'));
  await until('doomed removed', (list) => !list.has('doomed'));
  const refused = await api(server.url, '/api/strategies/execute', { json: { strategy: 'doomed', parameters: {} } });
  expect(refused.status).toBe(404);
  expect(refused.body.error.code).toBe('NOT_FOUND');
});
