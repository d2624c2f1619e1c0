import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction, Updateable } from 'kysely';
import type { EventType, RunEvent } from '../model/run-event.js';
import type { Role } from '../model/role.js';
import type { RunStatus } from '../model/run-status.js';

/** Row types of every table, as Kysely sees them. Mirrors the migrations in `migrations/`. */

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json = ColumnType<unknown, string, string>;

export interface RunsTable {
  id: Generated<string>;
  /** FIFO order of the queue, and a compact cursor for pagination. */
  number: Generated<number>;
  strategy: string;
  parameters: Json;
  status: RunStatus;
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
  /** The argv the run was queued with (null: queued before this was recorded). */
  command: Json | null;
  /** The folder the command runs from, as of queueing. */
  working_dir: string | null;
  /** Name of the token that queued the run (null: no access control, or before it existed). */
  started_by: string | null;
  /** Name of the token that cancelled it. */
  cancelled_by: string | null;
  /** Output events (from the script's stdout/stderr) stored; only the run's writer bumps it. */
  output_count: Generated<number>;
  /** Output events dropped because the database stayed away longer than EVENT_OUTAGE_LIMIT_MS. */
  events_lost: Generated<number>;
}

export interface ApiTokensTable {
  name: string;
  role: Role;
  /** SHA-256 of the token, hex: the token itself is shown once and never stored. */
  token_hash: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface SessionsTable {
  /** SHA-256 of the session id the browser holds in its cookie. */
  id_hash: string;
  token_name: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  expires_at: Timestamp;
}

export interface ServerSecretsTable {
  name: string;
  value: string;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  event_type: EventType;
  created_at: Timestamp;
  /** The event exactly as clients receive it (CONTRACT §4 format); written as JSON text. */
  payload: ColumnType<RunEvent, string, never>;
}

/** Idempotent execute: which run a caller's key started (CONTRACT §8). */
export interface IdempotencyKeysTable {
  /** The token's name; null without access control. */
  caller: string | null;
  key: string;
  /** sha256 of the request (strategy and parameters), to refuse a key reused for another request. */
  request_hash: string;
  run_id: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  runs: RunsTable;
  run_events: RunEventsTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  server_secrets: ServerSecretsTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type RunRow = Selectable<RunsTable>;
export type NewRunRow = Insertable<RunsTable>;
export type RunRowUpdate = Updateable<RunsTable>;
export type RunEventRow = Selectable<RunEventsTable>;

/** A handle or an open transaction: every repository function takes either. */
export type Db = Kysely<Database> | Transaction<Database>;
