import { z } from 'zod';
import { MAX_EVENTS_PAGE } from '../../resolvers/run-events.js';
import { MAX_PAGE_SIZE } from '../../resolvers/runs.js';
import { RunEventSchema } from '../../model/run-event.js';
import { RUN_STATUSES, toWireStatus } from '../../model/run-status.js';

/**
 * Every shape of the REST face (CONTRACT §4), described once: each schema validates the
 * request, types the handler and its reply, and becomes the OpenAPI document (`.meta({ id })`
 * names a component). Error messages are the ones clients see in `error.details`.
 */

const WIRE_STATUSES = RUN_STATUSES.map(toWireStatus);

/** Run ids are UUIDs, but any other string is simply an unknown run (404), never a 400. */
export const RunIdParams = z.object({
  run_id: z.string().describe('The run id (a UUID). Anything else is an unknown run (404).'),
});

/** A seq the client has seen: a whole number (one beyond any stored seq simply has nothing after it). */
const seq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a whole number >= 0')
  .transform(Number);

export const Strategy = z
  .object({
    name: z.string(),
    description: z.string(),
    parameters_schema: z.record(z.string(), z.unknown()).describe('JSON Schema of the parameters, with their defaults.'),
    timeout_seconds: z.number().int().nullable(),
  })
  .meta({ id: 'Strategy' });

export const ExecuteRequest = z
  .object(
    {
      strategy: z
        .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
        .min(1, 'must be a non-empty string')
        .describe('A registered strategy name.'),
      parameters: z
        .record(z.string(), z.unknown(), { error: 'must be an object' })
        .optional()
        .describe('Checked against the strategy’s parameters_schema; defaults applied.'),
    },
    { error: 'must be an object' },
  )
  .meta({ id: 'ExecuteRequest' });

export const ExecuteResponse = z
  .object({
    run_id: z.uuid(),
    status: z.literal('queued'),
    sse_url: z.string().describe('Relative to this server; carries a signed read-only ticket for this run, valid for 7 days.'),
    status_url: z.string().describe('Relative to this server.'),
  })
  .meta({ id: 'ExecuteResponse' });

/** A replay of an idempotent execute: the run the key started, as it is now. */
export const ExecuteReplayResponse = z
  .object({
    run_id: z.uuid(),
    status: z.enum(WIRE_STATUSES).describe('The run’s status now.'),
    sse_url: z.string().describe('Relative to this server.'),
    status_url: z.string().describe('Relative to this server.'),
  })
  .meta({ id: 'ExecuteReplayResponse' });

export const ExecuteHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .describe(
      'Retry safely: within 24 h the same key (from the same caller) answers 200 with the run it first started and queues nothing; the same key with another strategy or parameters is a 409.',
    ),
});

export const RunError = z.object({
  code: z.string().describe('EXIT_CODE, TIMEOUT, INTERRUPTED, SPAWN_FAILED, RUNNER_ERROR'),
  message: z.string(),
  stderr_tail: z.array(z.string()).describe('Last lines the script wrote on stderr.'),
});

export const RunStatusView = z
  .object({
    run_id: z.uuid(),
    strategy: z.string(),
    status: z.enum(WIRE_STATUSES),
    progress_percent: z.number().nullable(),
    stage: z.string().nullable(),
    message: z.string().nullable(),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
    exit_code: z.number().int().nullable(),
    error: RunError.nullable(),
    result: z.unknown().describe('The run’s result (its `result` event’s data), or null.'),
    parameters: z.record(z.string(), z.unknown()).describe('Validated parameters, defaults applied.'),
    queue_position: z.number().int().nullable().describe('1 = next to start; null unless queued.'),
    wait_reason: z.string().nullable().describe('Why a queued run has not started yet.'),
    last_seq: z.number().int().describe('seq of the newest stored event.'),
    started_by: z.string().nullable().describe('Name of the token that started the run (null when AUTH=off).'),
    cancelled_by: z.string().nullable().describe('Name of the token that cancelled it, if any.'),
    events_lost: z.number().int().min(0).describe('Output events lost to a database outage longer than EVENT_OUTAGE_LIMIT_MS (0 nearly always).'),
  })
  .meta({ id: 'RunStatus' });
export type RunStatusView = z.infer<typeof RunStatusView>;

export const RunsQuery = z.object({
  status: z
    .string()
    .max(200)
    .regex(new RegExp(`^(${WIRE_STATUSES.join('|')})(,(${WIRE_STATUSES.join('|')}))*$`), `must be statuses separated by commas (${WIRE_STATUSES.join(', ')})`)
    .transform((list) => list.split(','))
    .pipe(z.array(z.enum(WIRE_STATUSES)))
    .optional()
    .describe('Comma-separated statuses, e.g. `queued,running`.'),
  strategy: z.string().max(100).optional(),
  limit: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be >= 1').max(MAX_PAGE_SIZE, `must be <= ${MAX_PAGE_SIZE}`).default(20),
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,9}$/, 'must be a next_cursor returned by this route')
    .optional()
    .describe('The `next_cursor` of the previous page.'),
});

export const RunsPage = z
  .object({
    runs: z.array(RunStatusView).describe('Newest first.'),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  .meta({ id: 'RunsPage' });

export const EventsQuery = z.object({
  after_seq: seq.optional().describe('Only events with a greater seq (default 0: from the start).'),
  limit: z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be >= 1').max(MAX_EVENTS_PAGE, `must be <= ${MAX_EVENTS_PAGE}`).default(500),
});

export const EventsPage = z
  .object({ events: z.array(RunEventSchema).describe('Oldest first; empty when nothing is newer than after_seq.') })
  .meta({ id: 'EventsPage' });

/** The SSE answer, for the document: messages of `id: SEQ` and `data: <RunEvent JSON>`. */
export const SseStream = {
  description: 'One unnamed message per event: `id: <seq>`, `data: <RunEvent as JSON>`; `: ping` comments as heartbeats.',
  content: { 'text/event-stream': { schema: z.string() } },
};

export const SseQuery = z.object({
  access_token: z
    .string()
    .max(200)
    .optional()
    .describe('The signed read-only ticket that `sse_url` carries (for EventSource, which cannot send headers). Valid for this run only.'),
  last_event_id: seq.optional().describe('Resume after this seq (for clients that cannot set headers); Last-Event-ID wins.'),
});

export const SseHeaders = z.object({
  'last-event-id': z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number >= 0')
    .optional()
    .describe('Resume after this seq (EventSource sends it on reconnect).'),
});

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().describe('BAD_REQUEST, BAD_USER_INPUT, NOT_FOUND, CONFLICT, PAYLOAD_TOO_LARGE, TOO_MANY_STREAMS, SHUTTING_DOWN, …'),
      message: z.string(),
      details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });

/** Every protected route may answer these: no or bad credentials (401); not allowed for this role, host or origin (403). */
export const refusals = { 401: ErrorBody, 403: ErrorBody };
