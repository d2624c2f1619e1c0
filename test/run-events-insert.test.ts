// Storing a batch of events (src/db/run-events.ts): one statement whatever the batch's size,
// each payload stored as exactly the JSON clients receive (CONTRACT §4, keys in placeEvent's
// order), the other columns right, on the real PostgreSQL and on the embedded PGlite (its driver
// serialises the statement's parameters differently). One PGlite instance for the whole file:
// a fresh one costs seconds and most of a gigabyte (STACK.md pitfall 2).
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { PGliteDialect } from '../src/db/pglite-dialect.js';
import { appendOwnedRunEvents, appendOwnedRunEventsAfter, appendRunEvents, listRunEvents } from '../src/db/run-events.js';
import { jsonText } from '../src/model/json-text.js';
import { placeEvent, type EventDraft, type RunEvent } from '../src/model/run-event.js';
import { createTestDatabase } from './helpers/database.js';

interface Backend {
  db: Kysely<Database>;
  close(): Promise<void>;
}

/** Statements sent, as Kysely logs them. */
const statements: string[] = [];
const log = (event: { query: { sql: string } }) => void statements.push(event.query.sql);

const backends: Record<string, () => Promise<Backend>> = {
  PostgreSQL: async () => {
    const database = await createTestDatabase();
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 2 }) }), log });
    return { db, close: async () => (await db.destroy(), await database.drop()) };
  },
  PGlite: async () => {
    const pglite = await PGlite.create();
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), log });
    await migrateToLatest(db);
    return { db, close: async () => (await db.destroy(), await pglite.close()) };
  },
};

const at = (ms: number) => new Date(Date.UTC(2024, 0, 1) + ms).toISOString();

/** Text that has broken naive serialisers: quoting, escapes, every plane of Unicode, SQL. */
const ODD_TEXT = [
  'plain',
  '',
  'é ñ ß Ω ☃ € 中文 日本語 한국어 العربية עברית',
  '😀 𝄞 astral plane 🇫🇷 👩‍👩‍👧',
  'e\u0301 combining, \u200b zero width, \u2028 line separator, \u2029 paragraph separator',
  'quotes " \' ` and backslashes \\ \\\\ \\u0000 (the six characters, not a NUL)',
  'control \u0001\u0002\u0007\b\f\n\r\t\u001f\u007f',
  "'); drop table run_events; --",
  '{"looks":"like json"}',
  '[1,2,3]',
  '{',
  'NULL',
  '\\x00ff',
  'a,b,"c",{d}',
];

function oddDrafts(): EventDraft[] {
  const drafts: EventDraft[] = [];
  ODD_TEXT.forEach((text, i) => {
    drafts.push({ event_type: 'log', timestamp: at(i), level: 'info', message: text });
    drafts.push({
      event_type: 'progress',
      timestamp: at(i),
      stage: text,
      progress_percent: 12.5,
      current_item: text,
      total_items: 3,
      completed_items: 1,
      message: text,
      metrics: { [text || 'empty']: text, rate: 0.1, big: 1e21, negative: -0, nested: { list: [text, null, true, 1.5] } },
    });
  });
  // Big JSON: a result of about 2 MB, and an error carrying data.
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ ticker: `T${i}`, score: i / 7, note: ODD_TEXT[i % ODD_TEXT.length]! }));
  drafts.push({ event_type: 'result', timestamp: at(100), data: { candidates: rows, meta: { count: rows.length } } });
  drafts.push({ event_type: 'error', timestamp: at(101), level: 'error', message: 'with data', data: [ODD_TEXT, { deep: [[[['x']]]] }] });
  drafts.push({ event_type: 'status', timestamp: at(102), status: 'running', message: 'status events too' });
  // Timestamps at the ends of what the parser lets through (years 1–9999).
  drafts.push({ event_type: 'log', timestamp: '0001-01-01T00:00:00.000Z', level: 'debug', message: 'year 1' });
  drafts.push({ event_type: 'log', timestamp: '9999-12-31T23:59:59.999Z', level: 'warning', message: 'year 9999' });
  return drafts;
}

describe.each(Object.keys(backends))('storing run events on %s', (name) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await backends[name]!();
  }, 120_000);
  afterAll(() => backend?.close());

  async function newRun(): Promise<string> {
    const { id } = await backend.db
      .insertInto('runs')
      .values({ strategy: 'fixture', parameters: '{}', status: 'RUNNING', owner: 'me' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  }

  async function storedRows(runId: string) {
    const { rows } = await sql<{ seq: number; event_type: string; ms: number; text: string }>`
      select seq, event_type, (extract(epoch from created_at) * 1000)::float8 as ms, payload::text as text
      from run_events where run_id = ${runId} order by seq`.execute(backend.db);
    return rows;
  }

  /** Each row is the placed event, verbatim: payload text, type and time columns, seq. */
  function expectStoredAs(rows: Awaited<ReturnType<typeof storedRows>>, events: readonly RunEvent[], firstSeq = 1): void {
    expect(rows).toHaveLength(events.length);
    rows.forEach((row, i) => {
      const event = events[i]!;
      expect(row.seq).toBe(firstSeq + i);
      expect(event.seq).toBe(firstSeq + i);
      expect(row.text).toBe(JSON.stringify(event));
      expect(row.event_type).toBe(event.event_type);
      expect(Number(row.ms)).toBe(Date.parse(event.timestamp));
    });
  }

  it('stores a batch of 20,000 events (100,000 values: more than one statement may bind row by row) in one statement', async () => {
    const runId = await newRun();
    const drafts: EventDraft[] = Array.from({ length: 20_000 }, (_, i) => ({
      event_type: 'progress',
      timestamp: at(i),
      stage: 'work',
      message: `step ${i}`,
      completed_items: i,
      total_items: 20_000,
    }));
    statements.length = 0;
    const events = await backend.db.transaction().execute((trx) => appendRunEvents(trx, runId, drafts, { stage: 'work' }));
    expect(statements.filter((text) => /insert into run_events/.test(text))).toHaveLength(1);
    expect(events).toEqual(drafts.map((draft, i) => placeEvent(draft, { run_id: runId, seq: i + 1 })));
    expectStoredAs(await storedRows(runId), events);
    const run = await backend.db.selectFrom('runs').select(['last_seq', 'stage']).where('id', '=', runId).executeTakeFirstOrThrow();
    expect(run).toEqual({ last_seq: 20_000, stage: 'work' });
    // The batch's JSON, made once to be stored, is the text the Redis bus publishes.
    expect(jsonText(events)).toBe(JSON.stringify(events));
  }, 60_000);

  it('keeps odd payloads exactly (unicode, escapes, SQL-looking text, big JSON, extreme timestamps), after earlier batches', async () => {
    const runId = await newRun();
    const before = await backend.db.transaction().execute((trx) => appendRunEvents(trx, runId, [{ event_type: 'status', timestamp: at(0), status: 'queued' }]));
    const drafts = oddDrafts();
    const owned = await backend.db.transaction().execute((trx) => appendOwnedRunEvents(trx, runId, 'me', 0, drafts));
    if (owned.outcome !== 'stored') throw new Error(`not stored: ${owned.outcome}`);
    expectStoredAs(await storedRows(runId), [...before, ...owned.events]);
    // And read back as the same events, key order included.
    const read = await listRunEvents(backend.db, runId, 0, 1000);
    expect(read.map((event) => JSON.stringify(event))).toEqual([...before, ...owned.events].map((event) => JSON.stringify(event)));
  }, 60_000);

  it('stores a batch in one statement when the run is as the writer expects, and writes nothing when it is not', async () => {
    const runId = await newRun();
    const first = await backend.db.transaction().execute((trx) => appendOwnedRunEvents(trx, runId, 'me', 0, oddDrafts().slice(0, 3)));
    if (first.outcome !== 'stored') throw new Error(`not stored: ${first.outcome}`);
    const drafts = oddDrafts();
    const unchanged = async () => expectStoredAs(await storedRows(runId), first.events);
    // Anything not as expected (last seq, output count, owner, status): nothing written, undefined.
    expect(await appendOwnedRunEventsAfter(backend.db, runId, 'me', 3, 2, drafts)).toBeUndefined();
    expect(await appendOwnedRunEventsAfter(backend.db, runId, 'me', 2, 3, drafts)).toBeUndefined();
    expect(await appendOwnedRunEventsAfter(backend.db, runId, 'someone else', 3, 3, drafts)).toBeUndefined();
    await unchanged();
    statements.length = 0;
    const events = await appendOwnedRunEventsAfter(backend.db, runId, 'me', 3, 3, drafts, { stage: 'odd' });
    expect(statements).toHaveLength(1);
    expect(events).toBeDefined();
    expectStoredAs(await storedRows(runId), [...first.events, ...events!]);
    const run = await backend.db.selectFrom('runs').select(['last_seq', 'output_count', 'stage']).where('id', '=', runId).executeTakeFirstOrThrow();
    expect(run).toEqual({ last_seq: 3 + drafts.length, output_count: 3 + drafts.length, stage: 'odd' });
    await backend.db.updateTable('runs').set({ status: 'COMPLETED' }).where('id', '=', runId).execute();
    expect(await appendOwnedRunEventsAfter(backend.db, runId, 'me', run.output_count, run.last_seq, drafts)).toBeUndefined();
  }, 60_000);
});
