import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/rest.js';
import { execute, storedEvents, waitForStatus } from './helpers/runs.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// REST parity for clients that do not speak GraphQL: the runs list (filters, cursor paging,
// newest first) and a polling page of a run's events (CONTRACT §4).

let server: TestServer;
/** Oldest first, as they were started. */
const started: { id: string; strategy: string }[] = [];

beforeAll(async () => {
  // One run at a time and a paused queue make the statuses deterministic.
  server = await startTestServer({ MAX_CONCURRENT_RUNS: '1' });
  for (let i = 0; i < 3; i += 1) {
    const run = await execute(server.url, 'fixture_steps', { steps: 1, delay_ms: 0 });
    await waitForStatus(server.url, run.id, ['COMPLETED']);
    started.push({ id: run.id, strategy: 'fixture_steps' });
  }
  const failed = await execute(server.url, 'fixture_exit_code', {});
  await waitForStatus(server.url, failed.id, ['FAILED']);
  started.push({ id: failed.id, strategy: 'fixture_exit_code' });
  // A long run holds the only slot, so the next one waits in the queue.
  const running = await execute(server.url, 'fixture_steps', { steps: 600, delay_ms: 100 });
  await waitForStatus(server.url, running.id, ['RUNNING']);
  started.push({ id: running.id, strategy: 'fixture_steps' });
  const queued = await execute(server.url, 'fixture_steps', { steps: 1, delay_ms: 0 });
  started.push({ id: queued.id, strategy: 'fixture_steps' });
});
afterAll(() => server.close());

const ids = (body: { runs: { run_id: string }[] }) => body.runs.map((run) => run.run_id);
const newestFirst = () => started.map((run) => run.id).reverse();

describe('GET /api/strategies/runs', () => {
  it('lists every run newest first, as status objects, with no next page when all fit', async () => {
    const { status, body } = await api(server.url, '/api/strategies/runs');
    expect(status).toBe(200);
    expect(ids(body)).toEqual(newestFirst());
    expect(body.next_cursor).toBeNull();
    const running = body.runs.find((run: any) => run.run_id === started[4]!.id);
    expect(running).toMatchObject({ strategy: 'fixture_steps', status: 'running', finished_at: null });
    expect(body.runs[0]).toMatchObject({ status: 'queued', queue_position: 1 });
  });

  it('filters by status (one or several) and by strategy', async () => {
    const active = await api(server.url, '/api/strategies/runs?status=queued,running');
    expect(ids(active.body)).toEqual([started[5]!.id, started[4]!.id]);
    const failed = await api(server.url, '/api/strategies/runs?status=failed');
    expect(ids(failed.body)).toEqual([started[3]!.id]);
    const byStrategy = await api(server.url, '/api/strategies/runs?strategy=fixture_exit_code');
    expect(ids(byStrategy.body)).toEqual([started[3]!.id]);
    const both = await api(server.url, '/api/strategies/runs?strategy=fixture_steps&status=completed');
    expect(ids(both.body)).toEqual([started[2]!.id, started[1]!.id, started[0]!.id]);
    const none = await api(server.url, '/api/strategies/runs?strategy=no_such_strategy');
    expect(none.body).toEqual({ runs: [], next_cursor: null });
  });

  it('pages with limit and next_cursor until the last page, nothing missed or repeated', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `/api/strategies/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, body } = await api(server.url, query);
      expect(status).toBe(200);
      expect(body.runs.length).toBeLessThanOrEqual(2);
      seen.push(...ids(body));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst());
    // Paging composes with filters.
    const first = await api(server.url, '/api/strategies/runs?status=completed&limit=2');
    const second = await api(server.url, `/api/strategies/runs?status=completed&limit=2&cursor=${first.body.next_cursor}`);
    expect([...ids(first.body), ...ids(second.body)]).toEqual([started[2]!.id, started[1]!.id, started[0]!.id]);
    expect(second.body.next_cursor).toBeNull();
  });

  it('refuses bad filters with the field named', async () => {
    const cases = [
      ['status=done', 'status'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['cursor=zzz', 'cursor'],
    ] as const;
    for (const [query, field] of cases) {
      const { status, body } = await api(server.url, `/api/strategies/runs?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code).toBe('BAD_USER_INPUT');
      expect(body.error.details.map((d: any) => d.field)).toContain(field);
    }
  });
});

describe('GET /api/strategies/runs/{run_id}/events', () => {
  it('answers the stored events after a seq, oldest first, exactly as stored (and as the SSE data)', async () => {
    const run = started[0]!.id;
    const stored = await storedEvents(server.database.url, run);
    expect(stored.length).toBeGreaterThan(3);
    const all = await api(server.url, `/api/strategies/runs/${run}/events`);
    expect(all.status).toBe(200);
    expect(all.body.events).toEqual(stored);
    const after = await api(server.url, `/api/strategies/runs/${run}/events?after_seq=2`);
    expect(after.body.events).toEqual(stored.filter((event) => event.seq > 2));
    const limited = await api(server.url, `/api/strategies/runs/${run}/events?after_seq=1&limit=2`);
    expect(limited.body.events.map((event: any) => event.seq)).toEqual([2, 3]);
    const beyond = await api(server.url, `/api/strategies/runs/${run}/events?after_seq=999999999999`);
    expect(beyond.body).toEqual({ events: [] });
  });

  it('lets a client poll a live run: each page starts after the last seq seen, with no gap and no repeat', async () => {
    const run = await execute(server.url, 'fixture_steps', { steps: 30, delay_ms: 30 });
    // Free the slot the long run holds, so this one starts (the queued one goes first).
    await api(server.url, `/api/strategies/runs/${started[4]!.id}/cancel`, { method: 'POST' });
    const seqs: number[] = [];
    let last = 0;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { body } = await api(server.url, `/api/strategies/runs/${run.id}/events?after_seq=${last}&limit=7`);
      for (const event of body.events) seqs.push(event.seq);
      last = seqs.at(-1) ?? last;
      const terminal = body.events.some((event: any) => event.event_type === 'status' && ['completed', 'failed', 'cancelled'].includes(event.status));
      if (terminal) break;
      if (Date.now() > deadline) throw new Error(`run did not finish; seqs so far ${seqs.join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBe((await storedEvents(server.database.url, run.id)).length);
  });

  it('404 for an unknown run, 400 for a bad after_seq or limit', async () => {
    const unknown = await api(server.url, '/api/strategies/runs/00000000-0000-4000-8000-000000000000/events');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    for (const query of ['after_seq=-1', 'after_seq=x', 'limit=0', 'limit=5001']) {
      const { status, body } = await api(server.url, `/api/strategies/runs/${started[0]!.id}/events?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.code).toBe('BAD_USER_INPUT');
    }
  });
});
