import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Row types of every table, as Kysely sees them. Mirrors the migrations in `migrations/`. */

export type RunStatusValue = 'QUEUED' | 'RUNNING' | 'CANCELLING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json = ColumnType<unknown, string, string>;

export interface RunsTable {
  id: Generated<string>;
  /** FIFO order of the queue, and a compact cursor for pagination. */
  number: Generated<number>;
  strategy: string;
  parameters: Json;
  status: RunStatusValue;
  progress_percent: number | null;
  stage: string | null;
  message: string | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  exit_code: number | null;
  error_code: string | null;
  error_message: string | null;
  stderr_tail: Json | null;
  result: Json | null;
  timeout_seconds: number | null;
  pid: number | null;
  owner: string | null;
  heartbeat_at: Timestamp | null;
  wait_reason: string | null;
  /** The last `seq` handed out for this run's events; bumped under the row lock. */
  last_seq: Generated<number>;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  event_type: string;
  created_at: Timestamp;
  /** The event exactly as clients receive it (CONTRACT §4 format). */
  payload: Json;
}

export interface Database {
  runs: RunsTable;
  run_events: RunEventsTable;
}

export type RunRow = Selectable<RunsTable>;
export type NewRunRow = Insertable<RunsTable>;
export type RunRowUpdate = Updateable<RunsTable>;
export type RunEventRow = Selectable<RunEventsTable>;
