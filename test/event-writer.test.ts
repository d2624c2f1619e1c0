// The run's event writer (src/runner/event-writer.ts) on its own, against a real database: group
// commit (an event is written at once when nothing is in flight; what arrives during a write goes
// in the next batch, together), the batch bounds, and every event stored once, in order.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { appendRunEvents } from '../src/db/run-events.js';
import type { LogDraft, RunEvent } from '../src/model/run-event.js';
import { createInProcessEventBus } from '../src/pubsub/event-bus.js';
import { RunEventWriter, type EventWriterOptions } from '../src/runner/event-writer.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { waitFor } from './helpers/graphql.js';

const OWNER = 'test-instance';
let database: TestDatabase;
let db: Kysely<Database>;
beforeAll(async () => {
  database = await createTestDatabase();
  db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 4 }) }) });
});
afterAll(async () => {
  await db.destroy();
  await database.drop();
});

const line = (n: number, extra = ''): LogDraft => ({
  event_type: 'log',
  timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, n)).toISOString(),
  level: 'info',
  message: `line ${n}${extra}`,
});

/** A RUNNING run owned by this "instance", a writer for it, and every batch it publishes. */
async function writerFor(options: Partial<EventWriterOptions> = {}, writerDb: Kysely<Database> = db) {
  const { id } = await db
    .insertInto('runs')
    .values({ strategy: 'fixture', parameters: '{}', status: 'RUNNING', owner: OWNER })
    .returning('id')
    .executeTakeFirstOrThrow();
  const bus = createInProcessEventBus();
  const batches: Array<readonly RunEvent[]> = [];
  bus.subscribe('runEvents', id, (events) => batches.push(events));
  const writer = new RunEventWriter({ db: writerDb, bus, log: pino({ level: 'silent' }) }, id, {
    flushMs: 0,
    owner: OWNER,
    bufferBytes: 16 * 1024 * 1024,
    outageLimitMs: 60_000,
    ...options,
  });
  const stored = async () =>
    (await sql<{ seq: number; payload: RunEvent }>`select seq, payload from run_events where run_id = ${id} order by seq`.execute(db)).rows;
  return { id, writer, batches, stored };
}

/** Holds the run's row lock from another session, so the writer's next batch waits in flight. */
async function lockRun(runId: string): Promise<{ waiting: () => Promise<void>; release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from runs where id = $1 for update', [runId]);
  return {
    // A writer blocked on the lock shows as a session waiting for it.
    waiting: () =>
      waitFor(async () => {
        const { rows } = await client.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return rows[0]!.n > 0 ? true : undefined;
      }, 10_000, 'the writer to wait for the row lock').then(() => undefined),
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
}

/** Every pushed event stored exactly once, in push order, seq 1..n. */
function expectComplete(stored: Array<{ seq: number; payload: RunEvent }>, count: number): void {
  expect(stored.map((row) => row.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  expect(stored.map((row) => row.payload.message)).toEqual(Array.from({ length: count }, (_, i) => expect.stringMatching(new RegExp(`^line ${i}( |$)`))));
}

describe('RunEventWriter', () => {
  it('writes an event at once when nothing is in flight, even with a long minimum interval after a quiet spell', async () => {
    const { writer, batches, stored } = await writerFor({ flushMs: 60_000 });
    writer.push(line(0), 100);
    // No flush and no timer: the write starts on the next turn of the event loop.
    await waitFor(() => (batches.length === 1 ? true : undefined), 5000, 'the first batch');
    expect(batches[0]!.map((e) => e.seq)).toEqual([1]);
    expectComplete(await stored(), 1);
    await writer.close();
  });

  it('groups everything that arrives during a write into the next batch, and starts it as soon as that write commits', async () => {
    const { id, writer, batches, stored } = await writerFor();
    const lock = await lockRun(id);
    writer.push(line(0), 100);
    await lock.waiting(); // batch 1 ([0]) is in flight
    for (let n = 1; n <= 49; n++) writer.push(line(n), 100);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toHaveLength(0);
    await lock.release();
    await waitFor(() => (batches.length === 2 ? true : undefined), 5000, 'the second batch');
    expect(batches.map((batch) => batch.map((e) => e.seq))).toEqual([[1], Array.from({ length: 49 }, (_, i) => i + 2)]);
    await writer.close();
    expect(batches).toHaveLength(2);
    expectComplete(await stored(), 50);
  });

  it('pure group commit (flushMs 0) writes back to back; a minimum interval spaces batches unless flushed', async () => {
    const spaced = await writerFor({ flushMs: 300 });
    spaced.writer.push(line(0), 100);
    await waitFor(() => (spaced.batches.length === 1 ? true : undefined), 5000, 'the first batch');
    const firstAt = performance.now();
    spaced.writer.push(line(1), 100);
    await waitFor(() => (spaced.batches.length === 2 ? true : undefined), 5000, 'the second batch');
    expect(performance.now() - firstAt).toBeGreaterThan(200);
    spaced.writer.push(line(2), 100);
    await spaced.writer.flush(); // a flush does not wait for the interval
    expect(spaced.batches).toHaveLength(3);
    await spaced.writer.close();
    expectComplete(await spaced.stored(), 3);
  });

  it('never makes a batch larger than its bounds in events or bytes; an event over the byte bound goes alone', async () => {
    const maxBatchEvents = 10;
    const maxBatchBytes = 1000;
    const { id, writer, batches, stored } = await writerFor({ maxBatchEvents, maxBatchBytes });
    const sizes = new Map<number, number>();
    const lock = await lockRun(id);
    writer.push(line(0), 100);
    sizes.set(1, 100);
    await lock.waiting();
    for (let n = 1; n < 200; n++) {
      // Mostly small events, some large, a few larger than a whole batch may be.
      const bytes = n % 37 === 0 ? 2500 : n % 7 === 0 ? 450 : 60;
      writer.push(line(n, ' '.repeat(bytes > 100 ? 50 : 0)), bytes);
      sizes.set(n + 1, bytes);
    }
    await lock.release();
    await writer.close();
    expectComplete(await stored(), 200);
    expect(batches.flat().map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(maxBatchEvents);
      if (batch.length > 1) expect(batch.reduce((sum, e) => sum + sizes.get(e.seq)!, 0)).toBeLessThanOrEqual(maxBatchBytes);
    }
    // The oversized events went alone; the rest, all waiting when the lock went, was packed up
    // to a bound: each batch stopped only where the next event would have broken one.
    for (const seq of [38, 75, 112, 149, 186]) expect(batches.find((b) => b.some((e) => e.seq === seq))).toHaveLength(1);
    const bytesOf = (batch: readonly RunEvent[]) => batch.reduce((sum, e) => sum + sizes.get(e.seq)!, 0);
    for (let i = 1; i < batches.length - 1; i++) {
      const next = sizes.get(batches[i + 1]![0]!.seq)!;
      expect(batches[i]!.length === maxBatchEvents || bytesOf(batches[i]!) + next > maxBatchBytes).toBe(true);
    }
  });

  it('stores a long flood once each, in order, in batches that grow under load', async () => {
    const { writer, batches, stored } = await writerFor();
    const total = 20_000;
    let n = 0;
    // Pushed in bursts of 500 as a pipe read would deliver them, without waiting for the writes.
    await new Promise<void>((resolve) => {
      const burst = () => {
        for (let i = 0; i < 500 && n < total; i++, n++) writer.push(line(n), 200);
        if (n < total) setImmediate(burst);
        else resolve();
      };
      burst();
    });
    await writer.close();
    expectComplete(await stored(), total);
    expect(batches.flat().map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(batches.every((b) => b.length <= 1000)).toBe(true);
    expect(batches.length).toBeLessThan(total / 100);
  });

  it('stores a batch in one statement once it knows the run’s last seq; a status event written in between by someone else sends it through the transaction, with no gap', async () => {
    const statements: string[] = [];
    const logged = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }),
      log: (event) => void (event.level === 'query' && statements.push(event.query.sql)),
    });
    try {
      const { id, writer, batches, stored } = await writerFor({}, logged);
      const batch = async (n: number) => {
        statements.length = 0;
        writer.push(line(n), 100);
        await writer.flush();
        return [...statements];
      };
      // First batch: the writer does not know the run's last seq yet: four round trips.
      const transaction = ['begin', expect.stringMatching(/^update "runs"/), expect.stringMatching(/^\s*insert into run_events/), 'commit'];
      expect(await batch(0)).toEqual(transaction);
      // From then on: one statement, the update and the insert together.
      expect(await batch(1)).toEqual([expect.stringMatching(/^with "bumped" as \(update "runs"/)]);
      expect(await batch(2)).toHaveLength(1);
      // A cancel from another instance writes the run's CANCELLING status event in between.
      await db.transaction().execute((trx) =>
        appendRunEvents(trx, id, [{ event_type: 'status', timestamp: new Date().toISOString(), status: 'cancelling' }]),
      );
      // The one statement finds last_seq moved and writes nothing; the transaction stores the batch after the status.
      const after = await batch(3);
      expect(after[0]).toMatch(/^with "bumped"/);
      expect(after.slice(1)).toEqual(transaction);
      expect(await batch(4)).toEqual([expect.stringMatching(/^with "bumped"/)]);
      await writer.close();
      const rows = await stored();
      expect(rows.map((row) => row.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(rows.map((row) => row.payload.message ?? row.payload.event_type)).toEqual(['line 0', 'line 1', 'line 2', 'status', 'line 3', 'line 4']);
      // What was published is what was stored, seq for seq.
      expect(batches.flat().map((e) => e.seq)).toEqual([1, 2, 3, 5, 6]);
      const [run] = (await sql<{ last_seq: number; output_count: number }>`select last_seq, output_count from runs where id = ${id}`.execute(db)).rows;
      expect(run).toEqual({ last_seq: 6, output_count: 5 });
    } finally {
      await logged.destroy();
    }
  });
});
