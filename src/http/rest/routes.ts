import type http from 'node:http';
import { cancelRun, executeStrategy, getRun, queueInfo } from '../../resolvers/runs.js';
import { listStrategies } from '../../resolvers/strategies.js';
import type { AppContext } from '../../resolvers/context.js';
import type { RunRecord } from '../../db/runs.js';
import { HttpError, sendJson } from './http-errors.js';
import { openApiDocument } from './openapi.js';
import { readJsonBody } from './read-json-body.js';
import { runUrls, toRunStatusView } from './run-view.js';
import { parseLastEventId, serveRunEvents, type SseStreamRegistry } from './sse-stream.js';

/** The REST routes of CONTRACT §4 (plus the OpenAPI document), each a thin call into `src/resolvers`. */

export interface RouteRequest {
  readonly ctx: AppContext;
  readonly streams: SseStreamRegistry;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly url: URL;
  /** Path parameters by name, decoded. */
  readonly params: Readonly<Record<string, string>>;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  /** OpenAPI path template, e.g. `/api/strategies/runs/{run_id}/status`. */
  readonly path: string;
  handle(request: RouteRequest): Promise<void>;
}

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    path: '/api/strategies',
    async handle({ ctx, res }) {
      const strategies = listStrategies(ctx).map((s) => ({
        name: s.name,
        description: s.description,
        parameters_schema: s.parametersSchema,
        timeout_seconds: s.timeoutSeconds ?? null,
      }));
      sendJson(res, 200, strategies);
    },
  },
  {
    method: 'POST',
    path: '/api/strategies/execute',
    async handle({ ctx, req, res }) {
      const body = await readJsonBody(req, ctx.config.maxBodyBytes);
      const input = executeInput(body);
      const run = await executeStrategy(ctx, input);
      const urls = runUrls(run.id);
      sendJson(res, 202, { run_id: run.id, status: run.status.toLowerCase(), ...urls }, { location: urls.status_url });
    },
  },
  {
    method: 'GET',
    path: '/api/strategies/sse/{run_id}',
    async handle({ ctx, streams, req, res, url, params }) {
      const afterSeq = parseLastEventId(req.headers['last-event-id'], url.searchParams.get('last_event_id'));
      await serveRunEvents(ctx, streams, res, params.run_id!, afterSeq);
    },
  },
  {
    method: 'GET',
    path: '/api/strategies/runs/{run_id}/status',
    async handle({ ctx, res, params }) {
      sendJson(res, 200, await statusView(ctx, await getRun(ctx, { id: params.run_id! })));
    },
  },
  {
    method: 'POST',
    path: '/api/strategies/runs/{run_id}/cancel',
    async handle({ ctx, res, params }) {
      sendJson(res, 200, await statusView(ctx, await cancelRun(ctx, { id: params.run_id! })));
    },
  },
  {
    method: 'GET',
    path: '/api/openapi.json',
    async handle({ res }) {
      sendJson(res, 200, openApiDocument, { 'cache-control': 'public, max-age=300' });
    },
  },
];

async function statusView(ctx: AppContext, run: RunRecord) {
  return toRunStatusView(run, await queueInfo(ctx, run));
}

/** The body's shape; the parameters themselves are checked by the resolver against the schema. */
function executeInput(body: unknown): { strategy: string; parameters?: unknown } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'BAD_USER_INPUT', 'The body must be a JSON object: {"strategy": NAME, "parameters": {...}}.', [
      { field: '', message: 'must be an object' },
    ]);
  }
  const { strategy, parameters } = body as Record<string, unknown>;
  if (typeof strategy !== 'string' || strategy === '') {
    throw new HttpError(400, 'BAD_USER_INPUT', 'strategy is required: the name of a registered strategy.', [
      { field: 'strategy', message: strategy === undefined ? 'is required' : 'must be a non-empty string' },
    ]);
  }
  return { strategy, parameters: parameters ?? {} };
}
