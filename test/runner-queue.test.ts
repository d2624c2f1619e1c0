import { afterAll, beforeAll, expect, it } from 'vitest';
import { collectSubscription, sseClient } from './helpers/graphql.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '2' });
});
afterAll(() => server.close());

it('runs 5 queued runs at most 2 at a time, started in FIFO order, with queue positions', async () => {
  const client = sseClient(server.url, 'distinct');
  const updates: Array<{ id: string; status: string }> = [];
  // Watch every status change (the queue view) while the runs go through.
  const watching = (async () => {
    const subscription = client.iterate<{ runUpdated: { id: string; status: string } }>({
      query: 'subscription { runUpdated { id status } }',
    });
    for await (const payload of subscription) {
      updates.push(payload.data!.runUpdated);
      if (updates.filter((u) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(u.status)).length === 5) break;
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, 300));

  const runs: Array<{ id: string; status: string }> = [];
  for (let i = 0; i < 5; i++) runs.push(await execute(server.url, 'fixture_steps', { steps: 10, delay_ms: 60 }));
  expect(runs.map((r) => r.status)).toEqual(['QUEUED', 'QUEUED', 'QUEUED', 'QUEUED', 'QUEUED']);

  // A queued run knows its place and why it waits.
  const { gql } = await import('./helpers/graphql.js');
  const last = await gql<{ run: { queuePosition: number | null; waitReason: string | null } }>(
    server.url,
    'query($id: ID!) { run(id: $id) { queuePosition waitReason } }',
    { id: runs[4]!.id },
  );
  expect(last.data!.run.queuePosition).toBeGreaterThanOrEqual(1);
  expect(last.data!.run.waitReason).toMatch(/Waiting/);

  await Promise.all(runs.map((r) => waitForStatus(server.url, r.id, ['COMPLETED'])));
  await watching;
  client.dispose();

  let running = 0;
  let maxRunning = 0;
  const startOrder: string[] = [];
  for (const update of updates.filter((u) => runs.some((r) => r.id === u.id))) {
    if (update.status === 'RUNNING') {
      running += 1;
      startOrder.push(update.id);
    }
    if (update.status === 'COMPLETED') running -= 1;
    maxRunning = Math.max(maxRunning, running);
  }
  expect(maxRunning).toBe(2);
  expect(startOrder).toEqual(runs.map((r) => r.id));
});

it('streams runUpdated through both graphql-sse modes', async () => {
  for (const mode of ['distinct', 'single'] as const) {
    const client = sseClient(server.url, mode);
    const seen: string[] = [];
    const done = collectSubscription<{ runUpdated: { id: string; status: string } }>(
      client,
      'subscription { runUpdated { id status } }',
      {},
      (p) => {
        seen.push(p.data!.runUpdated.status);
        if (p.data!.runUpdated.status === 'COMPLETED') client.dispose();
      },
    ).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await execute(server.url, 'fixture_steps', { steps: 2, delay_ms: 0 });
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    client.dispose();
    expect(seen).toEqual(['QUEUED', 'RUNNING', 'COMPLETED']);
  }
});

it('keeps runs queued, with the reason, while the machine is short of memory', async () => {
  const starved = await startTestServer({ MIN_FREE_MEMORY_MB: String(1024 * 1024 * 1024) });
  try {
    const run = await execute(starved.url, 'fixture_steps', { steps: 2, delay_ms: 0 });
    await new Promise((resolve) => setTimeout(resolve, 800));
    const { gql } = await import('./helpers/graphql.js');
    const seen = await gql<{ run: { status: string; queuePosition: number; waitReason: string } }>(
      starved.url,
      'query($id: ID!) { run(id: $id) { status queuePosition waitReason } }',
      { id: run.id },
    );
    expect(seen.data!.run).toMatchObject({ status: 'QUEUED', queuePosition: 1 });
    expect(seen.data!.run.waitReason).toMatch(/^Waiting for memory: \d+ MB free, 1073741824 MB needed/);
  } finally {
    await starved.close();
  }
});
