import { isTerminal, fromWireStatus, type WireStatus } from './run-status.js';

/**
 * A run's events in the wire format of CONTRACT §4, as the parser makes them, as they are
 * stored (verbatim JSON) and as both faces send them: a union discriminated by `event_type`,
 * so the writer, the stream and the GraphQL fields are checked by the compiler.
 */

export const EVENT_TYPES = ['progress', 'log', 'status', 'result', 'error'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a script may say about where it is; any script event may carry these. */
export interface ProgressFields {
  readonly stage?: string;
  readonly progress_percent?: number;
  readonly current_item?: string;
  readonly total_items?: number;
  readonly completed_items?: number;
  readonly message?: string;
  readonly metrics?: Readonly<Record<string, unknown>>;
}

interface Base<T extends EventType> {
  readonly event_type: T;
  /** ISO 8601. */
  readonly timestamp: string;
}

export interface ProgressDraft extends Base<'progress'>, ProgressFields {}

export interface LogDraft extends Base<'log'>, ProgressFields {
  readonly level: LogLevel;
}

export interface ResultDraft extends Base<'result'>, ProgressFields {
  /** The run's result object. */
  readonly data: unknown;
}

export interface ErrorDraft extends Base<'error'>, ProgressFields {
  readonly level: LogLevel;
  readonly data?: unknown;
}

export interface StatusDraft extends Base<'status'> {
  readonly status: WireStatus;
  readonly message?: string;
  readonly exit_code?: number;
  readonly error?: { readonly code: string; readonly message: string };
  /** On a terminal status: output events the run lost to a long database outage (absent when none). */
  readonly events_lost?: number;
}

/** An event before it has a place in the run's log. */
export type EventDraft = ProgressDraft | LogDraft | ResultDraft | ErrorDraft | StatusDraft;

/** Where an event stands in its run's log. */
export interface EventPlace {
  readonly run_id: string;
  /** 1, 2, 3, … without gaps, per run. */
  readonly seq: number;
}

/** An event in the run's log: what storage holds and what clients receive (still a union: `&` distributes). */
export type RunEvent = EventDraft & EventPlace;
export type StatusEvent = StatusDraft & EventPlace;

/** The run's terminal status event: nothing follows it. */
export function isTerminalEvent(event: RunEvent): event is StatusEvent {
  return event.event_type === 'status' && isTerminal(fromWireStatus(event.status));
}

/** The draft's fields in the pinned key order (type, time, run, seq first): the stored JSON is sent verbatim. */
export function placeEvent<T extends EventDraft>(draft: T, place: EventPlace): T & EventPlace {
  // A key keeps the position of its first assignment: the draft's fields only fill in the rest.
  return Object.assign({ event_type: draft.event_type, timestamp: draft.timestamp, run_id: place.run_id, seq: place.seq }, draft);
}
