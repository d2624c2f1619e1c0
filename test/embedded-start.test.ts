import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signalProcessGroup } from '../src/runner/child-process.js';
import { waitFor } from './helpers/graphql.js';
import { execute, getRun, waitForStatus } from './helpers/runs.js';
import { ROOT } from './helpers/server.js';

/**
 * `npm start` on a fresh checkout with no environment at all: embedded PostgreSQL (PGlite)
 * under ./.data, port 4000. The checkout is a folder of links to this one, so its .data
 * starts empty and the test leaves nothing behind. `npm start` runs the JavaScript build, so the
 * checkout gets its own, compiled from the current sources (what `npm install` does through
 * `prepare`): no transpiler at run time, and never a stale dist/ of this worktree.
 */
let checkout: string;
const groups: number[] = [];
beforeAll(async () => {
  checkout = await fs.mkdtemp(path.join(os.tmpdir(), 'sr-fresh-'));
  for (const entry of ['package.json', 'node_modules', 'src', 'migrations', 'strategies', 'lib', 'tsconfig.json']) {
    await fs.symlink(path.join(ROOT, entry), path.join(checkout, entry));
  }
  await execa(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(checkout, 'dist')]);
}, 180_000);
afterAll(async () => {
  // npm → sh → node: whatever is left of each process group goes.
  for (const pgid of groups) signalProcessGroup(pgid, 'SIGKILL');
  await fs.rm(checkout, { recursive: true, force: true });
});

async function npmStart() {
  const child = execa('npm', ['start'], {
    cwd: checkout,
    // No environment at all, beyond what any shell has.
    env: { PATH: process.env.PATH!, HOME: process.env.HOME! },
    extendEnv: false,
    detached: true,
    reject: false,
    all: true,
    buffer: false,
  });
  groups.push(child.pid!);
  let output = '';
  child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = 'http://127.0.0.1:4000';
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
      return (await fetch(`${url}/readyz`).then((r) => r.json()).catch(() => undefined)) as { database: string } | undefined;
    },
    90_000,
    'npm start to serve',
  );
  return { child, url, output: () => output };
}

it('serves on port 4000 with an embedded database, completes a run, and keeps it across a restart', async () => {
  const first = await npmStart();
  let run;
  try {
    expect(await (await fetch(`${first.url}/readyz`)).json()).toEqual({ status: 'ready', database: 'pglite' });
    run = await execute(first.url, 'bullish_strategy', { universe: 'dow30', fetch_latency_ms: 0 });
    const done = await waitForStatus(first.url, run.id, ['COMPLETED', 'FAILED'], 60_000);
    expect(done.status).toBe('COMPLETED');
    expect((done.result as { candidates: unknown[] }).candidates.length).toBeGreaterThan(0);

    // A second server on the same embedded database would corrupt it: it refuses, clearly.
    const second = await execa('npm', ['start'], {
      cwd: checkout,
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, PORT: '0' },
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 60_000,
    });
    expect(second.exitCode).toBe(1);
    expect(second.all).toMatch(/\.data is in use by another strategy-runner \(pid \d+\)/);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
  } finally {
    // As a terminal's Ctrl-C or a service manager would: the whole group (npm → sh → node).
    signalProcessGroup(first.child.pid!, 'SIGTERM');
    await first.child;
  }
  await fs.access(path.join(checkout, '.data', 'pgdata'));
  // Started from the build, with no TypeScript loader anywhere in the process.
  expect(first.output()).toMatch(/> node dist\/src\/index\.js/);

  const second = await npmStart();
  try {
    const again = await getRun(second.url, run.id);
    expect(again).toMatchObject({ status: 'COMPLETED', exitCode: 0, progressPercent: 100 });
    expect(again!.lastSeq).toBeGreaterThan(10);
  } finally {
    signalProcessGroup(second.child.pid!, 'SIGTERM');
    await second.child;
  }
}, 240_000); // a brand-new embedded database takes a while to create on a busy machine
