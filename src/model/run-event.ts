import { z } from 'zod';
import { fromWireStatus, isTerminal, RUN_STATUSES, toWireStatus } from './run-status.js';

/**
 * A run's events in the wire format of CONTRACT §4: as the parser makes them, as they are stored
 * (verbatim JSON) and as both faces send them. Described once, here, as zod schemas: the types
 * the code is checked against are inferred from them, and the REST face's OpenAPI document is
 * generated from them. A union discriminated by `event_type`.
 */

export const EVENT_TYPES = ['progress', 'log', 'status', 'result', 'error'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const timestamp = z.iso.datetime({ offset: true }).describe('ISO 8601; the script’s own when it sent one, else the runner’s.');

/** What a script may say about where it is; any event a script writes may carry these. */
const progressFields = {
  stage: z.string().optional(),
  progress_percent: z.number().min(0).max(100).optional(),
  current_item: z.string().optional(),
  total_items: z.number().int().min(0).optional(),
  completed_items: z.number().int().min(0).optional(),
  message: z.string().optional(),
  metrics: z.record(z.string(), z.unknown()).optional().describe('e.g. items_per_second, estimated_remaining ("HH:MM:SS")'),
};
const ProgressFieldsSchema = z.object(progressFields);
export type ProgressFields = z.infer<typeof ProgressFieldsSchema>;

const ProgressDraftSchema = z.object({ event_type: z.literal('progress'), timestamp, ...progressFields });
const LogDraftSchema = z.object({ event_type: z.literal('log'), timestamp, ...progressFields, level: z.enum(LOG_LEVELS) });
const ResultDraftSchema = z.object({
  event_type: z.literal('result'),
  timestamp,
  ...progressFields,
  data: z.unknown().describe('The run’s result object.'),
});
const ErrorDraftSchema = z.object({
  event_type: z.literal('error'),
  timestamp,
  ...progressFields,
  level: z.enum(LOG_LEVELS),
  data: z.unknown().optional(),
});
const StatusDraftSchema = z.object({
  event_type: z.literal('status'),
  timestamp,
  status: z.enum(RUN_STATUSES.map(toWireStatus)),
  message: z.string().optional(),
  exit_code: z.number().int().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  events_lost: z.number().int().min(1).optional().describe('On a terminal status: output events the run lost to a long database outage (absent when none).'),
});

export type ProgressDraft = z.infer<typeof ProgressDraftSchema>;
export type LogDraft = z.infer<typeof LogDraftSchema>;
export type ResultDraft = z.infer<typeof ResultDraftSchema>;
export type ErrorDraft = z.infer<typeof ErrorDraftSchema>;
export type StatusDraft = z.infer<typeof StatusDraftSchema>;

/** An event before it has a place in the run's log. */
export type EventDraft = ProgressDraft | LogDraft | ResultDraft | ErrorDraft | StatusDraft;

/** Where an event stands in its run's log. */
const place = {
  run_id: z.uuid(),
  seq: z.number().int().min(1).describe('1, 2, 3, … without gaps, per run; the SSE `id`.'),
};
export type EventPlace = { readonly run_id: string; readonly seq: number };

/** An event in the run's log: what storage holds and what clients receive. */
export const RunEventSchema = z
  .discriminatedUnion('event_type', [
    ProgressDraftSchema.extend(place),
    LogDraftSchema.extend(place),
    ResultDraftSchema.extend(place),
    ErrorDraftSchema.extend(place),
    StatusDraftSchema.extend(place),
  ])
  .meta({ id: 'RunEvent', description: 'One event of a run (CONTRACT §4), exactly as stored and as sent on the SSE stream.' });

/** Still a union: `&` distributes over it. */
export type RunEvent = EventDraft & EventPlace;
export type StatusEvent = StatusDraft & EventPlace;

/** The run's terminal status event: nothing follows it. */
export function isTerminalEvent(event: RunEvent): event is StatusEvent {
  return event.event_type === 'status' && isTerminal(fromWireStatus(event.status));
}

/** The draft in its place, keys in the pinned order (type, time, run, seq first): the stored JSON is sent verbatim. */
export function placeEvent<T extends EventDraft>(draft: T, place: EventPlace): T & EventPlace {
  // A key keeps the position of its first assignment: the draft's fields only fill in the rest.
  return Object.assign({ event_type: draft.event_type, timestamp: draft.timestamp, run_id: place.run_id, seq: place.seq }, draft);
}
