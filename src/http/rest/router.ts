import type http from 'node:http';
import type { AppContext } from '../../resolvers/context.js';
import { HttpError, sendError } from './http-errors.js';
import { ROUTES, type Route } from './routes.js';
import { SseStreamRegistry } from './sse-stream.js';

/**
 * The REST + SSE face (CONTRACT §4) on plain Node `http`: a route table matched by method and
 * path template, no framework. Unknown paths answer 404, known paths with another method 405
 * with `Allow`, and every error leaves in the pinned JSON shape.
 */

/** What tests read to prove streams and timers are released. */
export interface RestStats {
  /** Open SSE streams, of one run or of all. */
  openStreams(runId?: string): number;
  /** Heartbeat timers still scheduled. */
  heartbeatTimers(): number;
  /** Times a stream waited for a slow client ('drain'). */
  drainWaits(): number;
}

export type RestHandler = ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) & {
  readonly stats: RestStats;
};

/** Every route as `{method, path}` (OpenAPI path templates), for the OpenAPI test to compare. */
export const REST_ROUTES: readonly { method: string; path: string }[] = ROUTES.map(({ method, path }) => ({ method, path }));

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

const COMPILED: readonly CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const source = route.path
    .split(/(\{\w+\})/)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (!name) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(name);
      return '([^/]+)';
    })
    .join('');
  return { route, pattern: new RegExp(`^${source}$`), names };
});

export function createRestHandler(ctx: AppContext): RestHandler {
  const streams = new SseStreamRegistry(ctx.config.sseMaxStreamsPerRun);
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { route, params } = match(req.method ?? 'GET', url.pathname);
      await route.handle({ ctx, streams, req, res, url, params });
    } catch (error) {
      sendError(res, error, ctx.log);
    }
  };
  const stats: RestStats = {
    openStreams: (runId) => streams.openStreams(runId),
    heartbeatTimers: () => streams.heartbeatTimers(),
    drainWaits: () => streams.drainWaits(),
  };
  return Object.assign(handler, { stats });
}

function match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
  const allowed: string[] = [];
  for (const { route, pattern, names } of COMPILED) {
    const found = pattern.exec(pathname);
    if (!found) continue;
    if (route.method !== method) {
      allowed.push(route.method);
      continue;
    }
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = decodeSegment(found[i + 1]!);
    });
    return { route, params };
  }
  if (allowed.length) {
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allowed.join(' or ')}.`, undefined, {
      allow: allowed.join(', '),
    });
  }
  throw new HttpError(404, 'NOT_FOUND', `No route ${method} ${pathname}. The API is described at /api/openapi.json.`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Not valid percent-encoding: no run can have that id.
    throw new HttpError(404, 'NOT_FOUND', `No run with id "${segment}"`);
  }
}
