import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { collectSubscription, gql, sseClient } from './helpers/graphql.js';
import { execute, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
/** The bus listeners the server itself holds (the scheduler's); streams must add none for good. */
let baselineListeners: number;
beforeAll(async () => {
  server = await startTestServer();
  baselineListeners = server.app.ctx.bus.listenerCount();
});
afterAll(() => server.close());

async function serverAnswers(): Promise<void> {
  const response = await gql<{ strategies: unknown[] }>(server.url, '{ strategies { name } }');
  expect(response.data!.strategies.length).toBeGreaterThan(0);
}

it('replays a 20,000-event run to a client page by page, in order, and stays up', async () => {
  const run = await execute(server.url, 'fixture_steps', { steps: 20_000, delay_ms: 0 });
  const done = await waitForStatus(server.url, run.id, ['COMPLETED'], 120_000);
  expect(done.lastSeq).toBeGreaterThanOrEqual(20_003);
  for (const mode of ['distinct', 'single'] as const) {
    const client = sseClient(server.url, mode);
    let expected = 1;
    let ordered = true;
    const payloads = await collectSubscription<{ runEvents: { seq: number } }>(
      client,
      'subscription($id: ID!) { runEvents(runId: $id) { seq } }',
      { id: run.id },
      (p) => {
        if (p.data?.runEvents.seq !== expected++) ordered = false;
      },
    );
    client.dispose();
    expect(ordered).toBe(true);
    expect(payloads).toHaveLength(done.lastSeq);
  }
  await serverAnswers();
  expect(server.app.ctx.bus.listenerCount()).toBe(baselineListeners);
}, 180_000);

it('a subscription whose source fails mid-stream ends with a coded error; the server stays up', async () => {
  const run = await execute(server.url, 'fixture_steps', { steps: 3000, delay_ms: 0 });
  await waitForStatus(server.url, run.id, ['COMPLETED'], 60_000);
  for (const mode of ['distinct', 'single'] as const) {
    const client = sseClient(server.url, mode);
    let broke = false;
    const payloads = await collectSubscription<{ runEvents: { seq: number } | null }>(
      client,
      'subscription($id: ID!) { runEvents(runId: $id) { seq } }',
      { id: run.id },
      () => {
        // After the first page, take the event table away under the stream.
        if (!broke) {
          broke = true;
          void sql`alter table run_events rename to run_events_gone`.execute(server.app.database.db);
        }
      },
    ).catch((error: unknown) => [{ errors: error as never }]);
    client.dispose();
    await sql`alter table run_events_gone rename to run_events`.execute(server.app.database.db);
    const last = payloads.at(-1)!;
    expect(payloads.length).toBeLessThan(3003);
    expect(last.errors?.[0]?.extensions?.code).toBe('SUBSCRIPTION_FAILED');
    expect(last.errors?.[0]?.message).toMatch(/subscribe again to resume/);
    expect(JSON.stringify(last)).not.toMatch(/run_events_gone|relation/);
    await serverAnswers();
  }
  expect(server.app.ctx.bus.listenerCount()).toBe(baselineListeners);
});

it('an afterSeq beyond the run’s last event sends nothing and completes when the run ends', async () => {
  const run = await execute(server.url, 'fixture_steps', { steps: 10, delay_ms: 100 });
  const client = sseClient(server.url, 'distinct');
  const started = Date.now();
  const payloads = await collectSubscription(client, 'subscription($id: ID!) { runEvents(runId: $id, afterSeq: 100000) { seq } }', {
    id: run.id,
  });
  client.dispose();
  expect(payloads).toEqual([]);
  expect((await waitForStatus(server.url, run.id, ['COMPLETED'])).status).toBe('COMPLETED');
  expect(Date.now() - started).toBeLessThan(10_000);
});
