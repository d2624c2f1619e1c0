import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { ADMIN_DATABASE_URL } from './helpers/database-urls.js';
import { waitFor } from './helpers/graphql.js';
import { api } from './helpers/rest.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * An outage longer than EVENT_OUTAGE_LIMIT_MS (2 s here; 5 min by default): the run is no longer
 * held, so output is dropped, but counted, and the run's record says so, on every face.
 */
let database: TestDatabase;
let proxy: TcpProxy;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  const admin = new URL(ADMIN_DATABASE_URL);
  proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
  server = await startTestServer(
    { DATABASE_URL: proxy.urlFor(database.url), EVENT_OUTAGE_LIMIT_MS: '2000', EVENT_FLUSH_MS: '20' },
    { database },
  );
});

afterAll(async () => {
  proxy?.restore();
  await server?.close();
  await proxy?.close();
});

it('events lost to an outage past the limit are counted: the final record, the status event and a log event say how many', async () => {
  const steps = 400;
  const run = await execute(server.url, 'fixture_clock', { steps, delay_ms: 20 });
  await waitForStatus(server.url, run.id, ['RUNNING']);
  await waitFor(async () => ((await storedEvents(database.url, run.id)).length > 20 ? true : undefined));
  proxy.cut();
  await new Promise((resolve) => setTimeout(resolve, 6000));
  proxy.restore();

  const done = await waitForStatus(server.url, run.id, ['COMPLETED', 'FAILED'], 60_000);
  expect(done.status).toBe('COMPLETED');
  const events = await storedEvents(database.url, run.id);
  const progress = events.filter((e) => e.event_type === 'progress');
  const lost = steps - progress.length;
  expect(lost).toBeGreaterThan(0);
  // GraphQL and REST both tell the truth, and agree with what storage is missing.
  expect(done.eventsLost).toBe(lost);
  expect(done.message).toMatch(new RegExp(`${lost} output event\\(s\\) lost`));
  const status = await api(server.url, `/api/strategies/runs/${run.id}/status`);
  expect(status.body).toMatchObject({ status: 'completed', events_lost: lost });
  expect(events.at(-1)).toMatchObject({ event_type: 'status', status: 'completed', events_lost: lost });
  // Clients following the stream see where the hole is: a log event at the point storing resumed.
  const notices = events.filter((e) => e.event_type === 'log' && /were lost/.test(String(e.message)));
  expect(notices).toHaveLength(1);
  expect(notices[0]).toMatchObject({ level: 'error' });
  // What was kept is in order, without gaps in seq.
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  const kept = progress.map((e) => (e.metrics as { step: number }).step);
  expect(kept).toEqual([...kept].sort((a, b) => a - b));
  expect(new Set(kept).size).toBe(kept.length); // nothing stored twice (an unacknowledged commit is not retried blindly)
});
