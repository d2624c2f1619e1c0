import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { fromWireStatus, toWireStatus } from '../../model/run-status.js';
import type { AppContext } from '../../resolvers/context.js';
import { listRunEventsOf } from '../../resolvers/run-events.js';
import { cancelRun, getRun, listRuns, queueInfo, startRun } from '../../resolvers/runs.js';
import { listStrategies } from '../../resolvers/strategies.js';
import type { RunRecord } from '../../db/runs.js';
import { signStreamTicket } from '../../auth/credentials.js';
import { requestContext } from '../request-context.js';
import { runUrls, toRunStatusView } from './run-view.js';
import {
  ErrorBody,
  EventsPage,
  EventsQuery,
  ExecuteHeaders,
  ExecuteReplayResponse,
  ExecuteRequest,
  ExecuteResponse,
  refusals,
  RunIdParams,
  RunsPage,
  RunsQuery,
  RunStatusView,
  SseHeaders,
  SseQuery,
  SseStream,
  Strategy,
} from './schemas.js';
import { accessRoutes } from './access-routes.js';
import { serveRunEvents, type SseStreamRegistry } from './sse-stream.js';

/** Where the generated OpenAPI document is served. */
export const OPENAPI_PATH = '/api/openapi.json';

const tags = ['strategies'];

/**
 * The REST + SSE face (CONTRACT §4). Each route is declared once with zod schemas: they
 * validate the request, type the handler and its reply, and generate the OpenAPI document.
 * Handlers are thin calls into `src/resolvers`, the same functions GraphQL calls.
 */
export async function restRoutes(
  parent: FastifyInstance,
  { ctx, streams, streamKey }: { ctx: AppContext; streams: SseStreamRegistry; streamKey: string },
): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain POST needs no CORS preflight, so no other site may start a run with one.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'strategy-runner REST API',
        version: '1.0.0',
        description: 'Start, watch and cancel strategy runs. The same behaviour is available over GraphQL at /graphql.',
      },
      tags: [
        { name: 'strategies', description: 'Strategies and their runs' },
        { name: 'access', description: 'Browser sign-in and API tokens (AUTH=tokens)' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A token from `npm run token -- create` (AUTH=tokens).' },
          session: { type: 'apiKey', in: 'cookie', name: 'sr_session', description: 'Set by POST /api/session.' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
    // Only the API routes: GraphQL describes itself (introspection), health probes are not an API.
    hideUntagged: true,
  });

  const statusView = async (run: RunRecord) => toRunStatusView(run, await queueInfo(ctx, run));

  app.get('/api/strategies', {
    schema: { tags, summary: 'Registered strategies', response: { 200: Strategy.array(), ...refusals } },
  }, async () =>
    listStrategies(ctx).map((s) => ({
      name: s.name,
      description: s.description,
      parameters_schema: { ...s.parametersSchema },
      timeout_seconds: s.timeoutSeconds ?? null,
    })),
  );

  app.post('/api/strategies/execute', {
    schema: {
      tags,
      summary: 'Queue a run',
      description: 'Parameters are validated against the strategy’s schema (defaults applied) before anything is queued.',
      body: ExecuteRequest,
      headers: ExecuteHeaders,
      response: {
        200: ExecuteReplayResponse.describe('Idempotency-Key seen before: the run it started, nothing new queued.'),
        202: ExecuteResponse,
        400: ErrorBody,
        404: ErrorBody,
        409: ErrorBody.describe('Idempotency-Key already used for another request.'),
        413: ErrorBody,
        415: ErrorBody,
        429: ErrorBody,
        503: ErrorBody,
        ...refusals,
      },
    },
  }, async (request, reply) => {
    const { run, replayed } = await startRun(
      requestContext(ctx, request),
      { ...request.body, idempotencyKey: request.headers['idempotency-key'] },
      'Idempotency-Key',
    );
    const urls = runUrls(run.id, signStreamTicket(streamKey, run.id));
    reply.header('location', urls.status_url);
    if (replayed) return reply.code(200).header('idempotent-replayed', 'true').send({ run_id: run.id, status: toWireStatus(run.status), ...urls });
    return reply.code(202).send({ run_id: run.id, status: 'queued', ...urls });
  });

  app.get('/api/strategies/sse/:run_id', {
    schema: {
      tags,
      summary: 'The run’s events as Server-Sent Events',
      description:
        'History first, then live; one unnamed message per event (`id` = seq, `data` = the event as JSON); a heartbeat comment at least every 15 s; closed after the terminal status event. A reconnect with nothing newer for a finished run gets 204.',
      params: RunIdParams,
      querystring: SseQuery,
      headers: SseHeaders,
      response: {
        200: SseStream,
        204: z.null().describe('The run has finished and there is nothing after Last-Event-ID.'),
        400: ErrorBody,
        404: ErrorBody,
        429: ErrorBody,
        ...refusals,
      },
    },
  }, async (request, reply) => {
    const afterSeq = request.headers['last-event-id'] ?? request.query.last_event_id ?? 0;
    await serveRunEvents(ctx, streams, reply, request.params.run_id, Number(afterSeq));
  });

  app.get('/api/strategies/runs', {
    schema: {
      tags,
      summary: 'Runs, newest first',
      querystring: RunsQuery,
      response: { 200: RunsPage, 400: ErrorBody, ...refusals },
    },
  }, async (request) => {
    const { status, strategy, limit, cursor } = request.query;
    const page = await listRuns(ctx, {
      status: status?.map(fromWireStatus),
      strategy,
      first: limit,
      olderThan: cursor === undefined ? undefined : Number(cursor),
    });
    const last = page.runs.at(-1);
    return {
      runs: await Promise.all(page.runs.map(statusView)),
      next_cursor: page.hasNextPage && last ? String(last.number) : null,
    };
  });

  app.get('/api/strategies/runs/:run_id/status', {
    schema: { tags, summary: 'A run’s status', params: RunIdParams, response: { 200: RunStatusView, 404: ErrorBody, ...refusals } },
  }, async (request) => statusView(await getRun(ctx, { id: request.params.run_id })));

  app.get('/api/strategies/runs/:run_id/events', {
    schema: {
      tags,
      summary: 'A page of the run’s stored events',
      description: 'For clients that poll: the events with seq > after_seq, oldest first, each exactly as the SSE `data`.',
      params: RunIdParams,
      querystring: EventsQuery,
      response: { 200: EventsPage, 400: ErrorBody, 404: ErrorBody, ...refusals },
    },
    // Stored events go out verbatim, as on the SSE stream (no re-encoding of up to 5000 events).
    serializerCompiler: () => (data) => JSON.stringify(data),
  }, async (request) => ({
    events: await listRunEventsOf(ctx, { runId: request.params.run_id, afterSeq: request.query.after_seq, first: request.query.limit }),
  }));

  app.post('/api/strategies/runs/:run_id/cancel', {
    schema: {
      tags,
      summary: 'Cancel a run',
      description: 'A queued run is cancelled at once; a running one is stopped (SIGTERM, then SIGKILL after a grace period).',
      params: RunIdParams,
      response: { 200: RunStatusView, 404: ErrorBody, 409: ErrorBody, ...refusals },
    },
  }, async (request) => statusView(await cancelRun(requestContext(ctx, request), { id: request.params.run_id })));

  await app.register(accessRoutes, ctx);

  app.get(OPENAPI_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(app.swagger()),
  );
}
