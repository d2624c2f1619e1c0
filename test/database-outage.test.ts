import { afterAll, beforeAll, expect, it } from 'vitest';
import { print } from 'graphql';
import { RunEventsDocument } from './documents.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { ADMIN_DATABASE_URL } from './helpers/database-urls.js';
import { sseClient, waitFor } from './helpers/graphql.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * PostgreSQL unreachable for a full minute (a proxy of the test's own is cut; the machine's
 * server is never touched) while two runs execute: nothing is lost. The writer holds the
 * events; once its byte budget is full the child's output is no longer read, the pipe fills and
 * the script blocks on its next write; storing resumes in order when the database returns.
 */
const OUTAGE_MS = 60_000;

let database: TestDatabase;
let proxy: TcpProxy;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  const admin = new URL(ADMIN_DATABASE_URL);
  proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
  server = await startTestServer(
    { DATABASE_URL: proxy.urlFor(database.url), EVENT_BUFFER_BYTES: String(64 * 1024), EVENT_FLUSH_MS: '20' },
    { database },
  );
});

afterAll(async () => {
  proxy?.restore();
  await server?.close();
  await proxy?.close();
});

/** Follows a run over graphql-sse to its end, resubscribing after the last seen seq if the stream breaks. */
async function follow(runId: string): Promise<number[]> {
  const seen: number[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    const client = sseClient(server.url, 'distinct');
    try {
      for await (const payload of client.iterate<{ runEvents: { seq: number; status: string | null } }>({
        query: print(RunEventsDocument),
        variables: { runId, afterSeq: seen.at(-1) ?? 0 },
      })) {
        if (payload.errors) throw new Error(JSON.stringify(payload.errors));
        seen.push(payload.data!.runEvents.seq);
      }
      return seen;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      client.dispose();
    }
  }
  throw new Error('subscription never completed');
}

it(
  'a 60 s outage: every event of both runs is stored once, in order; the flooding script waited instead of losing output',
  async () => {
    const slow = await execute(server.url, 'fixture_steps', { steps: 140, delay_ms: 500 });
    const flood = await execute(server.url, 'fixture_clock', { steps: 3000, delay_ms: 4 });
    await waitForStatus(server.url, slow.id, ['RUNNING']);
    await waitForStatus(server.url, flood.id, ['RUNNING']);
    const watching = follow(slow.id);
    await waitFor(async () => ((await storedEvents(database.url, flood.id)).length > 100 ? true : undefined));

    proxy.cut();
    const cutAt = Date.now();
    const unready = await fetch(`${server.url}/readyz`);
    expect(unready.status).toBe(503);
    const storedAtCut = (await storedEvents(database.url, flood.id)).length;
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - cutAt)));
    // Nothing could be stored meanwhile (the run's history waits in the writer or in the pipe).
    expect((await storedEvents(database.url, flood.id)).length).toBe(storedAtCut);
    proxy.restore();
    await waitFor(async () => ((await fetch(`${server.url}/readyz`)).status === 200 ? true : undefined), 10_000, 'readiness');

    const slowDone = await waitForStatus(server.url, slow.id, ['COMPLETED', 'FAILED'], 60_000);
    const floodDone = await waitForStatus(server.url, flood.id, ['COMPLETED', 'FAILED'], 60_000);
    expect(slowDone.status).toBe('COMPLETED');
    expect(floodDone.status).toBe('COMPLETED');
    expect([slowDone.eventsLost, floodDone.eventsLost]).toEqual([0, 0]);

    for (const [run, steps] of [[slow, 140], [flood, 3000]] as const) {
      const events = await storedEvents(database.url, run.id);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const progress = events.filter((e) => e.event_type === 'progress');
      expect(progress).toHaveLength(steps);
      expect(progress.map((e) => e.progress_percent)).toEqual(
        Array.from({ length: steps }, (_, i) => Math.round((10000 * (i + 1)) / steps) / 100),
      );
      expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'completed' });
      expect(events.some((e) => e.event_type === 'log' && /lost/.test(String(e.message)))).toBe(false);
    }

    // The flooding script was held back: one of its writes waited for most of the outage.
    const wroteAt = (await storedEvents(database.url, flood.id))
      .filter((e) => e.event_type === 'progress')
      .map((e) => (e.metrics as { wrote_at: number }).wrote_at);
    const longestWait = Math.max(...wroteAt.slice(1).map((t, i) => t - wroteAt[i]!));
    expect(longestWait).toBeGreaterThan((OUTAGE_MS - 15_000) / 1000);

    // A subscriber that stayed connected through the outage got every event once, in order.
    expect(await watching).toEqual((await storedEvents(database.url, slow.id)).map((e) => e.seq));
  },
  180_000,
);
