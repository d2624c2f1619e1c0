import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, waitFor } from './helpers/graphql.js';
import { CancelRunDocument } from './documents.js';
import { execute, getRun, livingProcessesInGroup, runPid, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// CANCEL_GRACE_MS is 1500 in test servers.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '3' });
});
afterAll(() => server.close());

async function cancel(id: string) {
  return gql(server.url, CancelRunDocument, { id });
}

describe('cancelling runs', () => {
  it.each([
    ['a well-behaved script', 'fixture_steps', { steps: 1000, delay_ms: 50 }],
    ['a script that ignores SIGTERM', 'fixture_ignore_sigterm', {}],
    ['a script whose grandchild holds stdout', 'fixture_grandchild', {}],
  ])('stops %s within the grace period and leaves no process of its group', async (_what, strategy, parameters) => {
    const run = await execute(server.url, strategy, parameters);
    await waitFor(async () => ((await storedEvents(server.database.url, run.id)).some((e) => e.event_type === 'progress') ? true : undefined));
    const pid = await runPid(server.database.url, run.id);
    expect((await livingProcessesInGroup(pid)).length).toBeGreaterThan(0);

    const started = Date.now();
    const response = await cancel(run.id);
    expect(response.errors).toBeUndefined();
    expect(['CANCELLING', 'CANCELLED']).toContain(response.data!.cancelRun.status);

    const done = await waitForStatus(server.url, run.id, ['CANCELLED', 'FAILED', 'COMPLETED'], 10_000);
    expect(done.status).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(1500 + 2500);
    expect(await livingProcessesInGroup(pid)).toEqual([]);

    const statuses = (await storedEvents(server.database.url, run.id)).filter((e) => e.event_type === 'status').map((e) => e.status);
    expect(statuses).toEqual(['queued', 'running', 'cancelling', 'cancelled']);
  });

  it('cancels a queued run at once, and it never starts', async () => {
    // Fill the three slots so the fourth run stays queued.
    const blockers = await Promise.all([1, 2, 3].map(() => execute(server.url, 'fixture_steps', { steps: 1000, delay_ms: 20 })));
    const queued = await execute(server.url, 'fixture_steps', { steps: 3, delay_ms: 0 });
    await Promise.all(blockers.map((b) => waitForStatus(server.url, b.id, ['RUNNING'])));
    expect((await getRun(server.url, queued.id))!.status).toBe('QUEUED');

    const response = await cancel(queued.id);
    expect(response.data!.cancelRun.status).toBe('CANCELLED');
    await Promise.all(blockers.map((b) => cancel(b.id)));
    await Promise.all(blockers.map((b) => waitForStatus(server.url, b.id, ['CANCELLED'])));
    await new Promise((resolve) => setTimeout(resolve, 500));

    const after = await getRun(server.url, queued.id);
    expect(after).toMatchObject({ status: 'CANCELLED', startedAt: null, exitCode: null });
    const events = await storedEvents(server.database.url, queued.id);
    expect(events.map((e) => [e.seq, e.status])).toEqual([
      [1, 'queued'],
      [2, 'cancelled'],
    ]);
  });

  it('answers CONFLICT when the run has already finished, and NOT_FOUND for an unknown run', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 2, delay_ms: 0 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    const conflict = await cancel(run.id);
    expect(conflict.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(conflict.errors?.[0]?.message).toMatch(/already finished \(completed\)/);
    expect((await getRun(server.url, run.id))!.status).toBe('COMPLETED');

    const missing = await cancel('00000000-0000-4000-8000-000000000000');
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const garbage = await cancel('not-a-run-id');
    expect(garbage.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
