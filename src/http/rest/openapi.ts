/**
 * OpenAPI 3.1 description of the REST + SSE face (CONTRACT §4), served at `GET /api/openapi.json`.
 * A test validates it and checks that its paths and methods are exactly the router's.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });
const runIdParameter = {
  name: 'run_id',
  in: 'path',
  required: true,
  description: 'The run id (a UUID). Anything else is simply an unknown run (404).',
  schema: { type: 'string' },
};

const nullable = (type: string, extra: Record<string, unknown> = {}) => ({ type: [type, 'null'], ...extra });

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'strategy-runner REST + SSE',
    version: '1.0.0',
    description:
      'Start strategy runs, follow their events live over Server-Sent Events, read their status and cancel them. ' +
      'The same behaviour is available over GraphQL at /graphql. URLs in responses are relative to this server.',
  },
  paths: {
    '/api/strategies': {
      get: {
        operationId: 'listStrategies',
        summary: 'Registered strategies',
        responses: {
          '200': { description: 'Every registered strategy.', content: json({ type: 'array', items: ref('Strategy') }) },
        },
      },
    },
    '/api/strategies/execute': {
      post: {
        operationId: 'executeStrategy',
        summary: 'Validate the parameters and queue a run',
        requestBody: { required: true, content: json(ref('ExecuteRequest')) },
        responses: {
          '202': {
            description: 'Queued. `sse_url` and `status_url` are relative to this server.',
            headers: { Location: { description: 'The status URL.', schema: { type: 'string' } } },
            content: json(ref('ExecuteResponse')),
          },
          '400': errorResponse('Not JSON, not `Content-Type: application/json`, or invalid parameters (`BAD_USER_INPUT` with `details`).'),
          '404': errorResponse('Unknown strategy.'),
          '413': errorResponse('Body larger than MAX_BODY_BYTES.'),
        },
      },
    },
    '/api/strategies/sse/{run_id}': {
      get: {
        operationId: 'streamRunEvents',
        summary: 'The run’s events as Server-Sent Events',
        description:
          'Unnamed messages, `id` = the event’s `seq`, `data` = one line of RunEvent JSON. History first, then live; ' +
          'closes after the terminal `status` event. Starts with a `retry:` hint; a `: ping` comment is sent as a heartbeat. ' +
          'Resume with the `Last-Event-ID` header (sent by EventSource on reconnect) or `last_event_id`: every event after it, nothing twice.',
        parameters: [
          runIdParameter,
          {
            name: 'Last-Event-ID',
            in: 'header',
            required: false,
            description: 'Resume after this seq. Wins over `last_event_id`.',
            schema: { type: 'string', pattern: '^\\d+$' },
          },
          {
            name: 'last_event_id',
            in: 'query',
            required: false,
            description: 'Resume after this seq (for clients that cannot set headers).',
            schema: { type: 'integer', minimum: 0 },
          },
        ],
        responses: {
          '200': {
            description: 'The event stream.',
            content: {
              'text/event-stream': {
                schema: { type: 'string', description: 'SSE; each message’s `data` is one RunEvent (x-sse-data).' },
                // OpenAPI 3.1 has no place for the schema of each SSE message (3.2's itemSchema).
                'x-sse-data': ref('RunEvent'),
              },
            },
          },
          '204': { description: 'The run has finished and there is nothing after the given seq: EventSource stops.' },
          '400': errorResponse('Last-Event-ID / last_event_id is not a whole number.'),
          '404': errorResponse('Unknown run.'),
          '429': errorResponse('The run already has SSE_MAX_STREAMS_PER_RUN open streams.'),
        },
      },
    },
    '/api/strategies/runs/{run_id}/status': {
      get: {
        operationId: 'getRunStatus',
        summary: 'The run’s current status',
        parameters: [runIdParameter],
        responses: {
          '200': { description: 'The status object.', content: json(ref('RunStatus')) },
          '404': errorResponse('Unknown run.'),
        },
      },
    },
    '/api/strategies/runs/{run_id}/cancel': {
      post: {
        operationId: 'cancelRun',
        summary: 'Cancel a queued or running run',
        parameters: [runIdParameter],
        responses: {
          '200': { description: 'The status object, now `cancelled` or `cancelling`.', content: json(ref('RunStatus')) },
          '404': errorResponse('Unknown run.'),
          '409': errorResponse('The run has already finished.'),
        },
      },
    },
    '/api/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        responses: { '200': { description: 'OpenAPI 3.1 document.', content: json({ type: 'object' }) } },
      },
    },
  },
  components: {
    schemas: {
      Strategy: {
        type: 'object',
        required: ['name', 'description', 'parameters_schema'],
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          parameters_schema: { type: 'object', description: 'JSON Schema of the parameters, with defaults.' },
          timeout_seconds: nullable('integer'),
        },
      },
      ExecuteRequest: {
        type: 'object',
        required: ['strategy'],
        properties: {
          strategy: { type: 'string', description: 'A registered strategy name.' },
          parameters: { type: 'object', description: 'Checked against the strategy’s parameters_schema; defaults applied.' },
        },
      },
      ExecuteResponse: {
        type: 'object',
        required: ['run_id', 'status', 'sse_url', 'status_url'],
        properties: {
          run_id: { type: 'string', format: 'uuid' },
          status: { const: 'queued' },
          sse_url: { type: 'string', format: 'uri-reference', examples: ['/api/strategies/sse/0b7d…'] },
          status_url: { type: 'string', format: 'uri-reference' },
        },
      },
      Status: { type: 'string', enum: ['queued', 'running', 'cancelling', 'completed', 'failed', 'cancelled'] },
      RunStatus: {
        type: 'object',
        required: [
          'run_id', 'strategy', 'status', 'progress_percent', 'stage', 'message', 'created_at',
          'started_at', 'finished_at', 'exit_code', 'error', 'result',
        ],
        properties: {
          run_id: { type: 'string', format: 'uuid' },
          strategy: { type: 'string' },
          status: ref('Status'),
          progress_percent: nullable('number'),
          stage: nullable('string'),
          message: nullable('string'),
          created_at: { type: 'string', format: 'date-time' },
          started_at: nullable('string', { format: 'date-time' }),
          finished_at: nullable('string', { format: 'date-time' }),
          exit_code: nullable('integer'),
          error: {
            oneOf: [
              { type: 'null' },
              {
                type: 'object',
                required: ['code', 'message', 'stderr_tail'],
                properties: {
                  code: { type: 'string', description: 'EXIT_CODE, TIMEOUT, INTERRUPTED, SPAWN_FAILED, RUNNER_ERROR' },
                  message: { type: 'string' },
                  stderr_tail: { type: 'array', items: { type: 'string' } },
                },
              },
            ],
          },
          result: { description: 'The run’s result object (its `result` event’s data), or null.' },
          parameters: { type: 'object' },
          queue_position: nullable('integer', { description: '1 = next to start; null unless queued.' }),
          wait_reason: nullable('string'),
          last_seq: { type: 'integer', description: 'seq of the newest stored event.' },
          events_lost: { type: 'integer', description: 'Output events lost to a database outage longer than EVENT_OUTAGE_LIMIT_MS (0 nearly always).' },
        },
      },
      RunEvent: {
        type: 'object',
        required: ['event_type', 'timestamp', 'run_id', 'seq'],
        properties: {
          event_type: { type: 'string', enum: ['progress', 'log', 'status', 'result', 'error'] },
          timestamp: { type: 'string', format: 'date-time' },
          run_id: { type: 'string', format: 'uuid' },
          seq: { type: 'integer', minimum: 1 },
          stage: { type: 'string' },
          progress_percent: { type: 'number' },
          current_item: { type: 'string' },
          total_items: { type: 'integer' },
          completed_items: { type: 'integer' },
          message: { type: 'string' },
          metrics: { type: 'object' },
          status: ref('Status'),
          level: { type: 'string' },
          data: {},
        },
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', examples: ['BAD_REQUEST', 'BAD_USER_INPUT', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_STREAMS'] },
              message: { type: 'string' },
              details: {
                type: 'array',
                items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
  },
} as const;
