import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import cookie from '@fastify/cookie';
import type { AppContext } from '../resolvers/context.js';
import { installAuthentication } from './authenticate.js';
import { graphqlRoutes } from './graphql/plugin.js';
import { healthRoutes, type Readiness } from './health.js';
import { metricsRoute } from './metrics-route.js';
import { errorBody, HttpError, toErrorReply } from './http-errors.js';
import { OPENAPI_PATH, restRoutes } from './rest/plugin.js';
import { SseStreamRegistry } from './rest/sse-stream.js';
import { registerSecurityHeaders } from './security-headers.js';
import { webApp } from './web-app.js';
import { pathOf } from './request-path.js';

/**
 * The HTTP edge: one Fastify server carrying GraphQL (yoga), the REST + SSE routes, health
 * probes and security headers. Request logging, request ids and the error shape live here,
 * once for every route.
 */

export interface HttpServer {
  readonly fastify: FastifyInstance;
  /** Open REST SSE streams and their timers (tests prove nothing leaks). */
  readonly streams: SseStreamRegistry;
}

/** A client's own request id is kept (and echoed) when it is short and plain; else we make one. */
const REQUEST_ID = /^[\w.:-]{1,64}$/;

/** Methods a route may be asked for; the others of a REST path get 405 with `Allow`. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export async function createHttpServer(ctx: AppContext, readiness: Readiness, streamKey: string): Promise<HttpServer> {
  const { config } = ctx;
  const loggerInstance: FastifyBaseLogger = ctx.log;
  const fastify = Fastify({
    loggerInstance,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new RequestLog({ requestIdLogLabel: 'request_id' }),
    bodyLimit: config.maxBodyBytes,
    // Bounds receiving a request, not the response: SSE streams are unaffected.
    requestTimeout: 120_000,
    // A socket silent both ways this long is closed, including one that never sends a byte
    // (which the request timeouts never see); streams stay alive through their heartbeats.
    connectionTimeout: config.idleTimeoutMs,
    // Open streams end with the server instead of holding `close()` open.
    forceCloseConnections: true,
    // HEAD on a JSON API only invites 405s that say which methods exist.
    exposeHeadRoutes: false,
    // Malformed URLs (bad percent-encoding) are a client's mistake: an unknown resource.
    frameworkErrors: malformedRequest,
  });
  fastify.server.headersTimeout = 60_000;

  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  fastify.setErrorHandler((error, request, reply) => {
    const answer = toErrorReply(error, { maxBodyBytes: config.maxBodyBytes });
    if (answer.expected) request.log.info({ code: answer.code, message: answer.message }, 'request refused');
    else request.log.error({ err: error }, 'request failed');
    return reply.code(answer.status).headers(answer.headers).send(errorBody(answer));
  });
  fastify.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody({ code: 'NOT_FOUND', message: `No route ${request.method} ${pathOf(request.url)}. The API is described at ${OPENAPI_PATH}.` })),
  );

  await registerSecurityHeaders(fastify);
  await fastify.register(cookie);
  installAuthentication(fastify, ctx, streamKey);
  await fastify.register(healthRoutes, readiness);
  await fastify.register(metricsRoute, { metrics: ctx.metrics });

  const methodsByPath = collectRestMethods(fastify);
  const streams = new SseStreamRegistry(config.sseMaxStreamsPerRun);
  await fastify.register(restRoutes, { ctx, streams, streamKey });
  answerOtherMethods(fastify, methodsByPath);

  await fastify.register(graphqlRoutes, ctx);
  await fastify.register(webApp, {});
  return { fastify, streams };
}

/**
 * One line per request when it completes (method, path without the query, status, time), rather
 * than Fastify's two lines with full URLs and headers. Probes (`logLevel: 'silent'`) stay quiet.
 */
class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, path: pathOf(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request');
  }
}

/** A URL the router cannot read (bad percent-encoding): nothing can live there. */
function malformedRequest(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ code: error.code }, 'malformed request');
  void reply
    .code(404)
    .type('application/json; charset=utf-8')
    .send(errorBody({ code: 'NOT_FOUND', message: `Nothing at ${pathOf(request.url)}: the URL is not valid percent-encoding.` }));
}

/** Records the methods of every REST path as its routes are declared. */
function collectRestMethods(fastify: FastifyInstance): Map<string, Set<string>> {
  const methodsByPath = new Map<string, Set<string>>();
  fastify.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/') || route.config?.methodNotAllowed) return;
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(route.url, methods);
  });
  return methodsByPath;
}

/** A known path asked with another method: 405 and the methods it does take. */
function answerOtherMethods(fastify: FastifyInstance, methodsByPath: ReadonlyMap<string, ReadonlySet<string>>): void {
  for (const [url, methods] of [...methodsByPath]) {
    const allow = [...methods].join(', ');
    const others = METHODS.filter((method) => !methods.has(method));
    fastify.route({
      url,
      method: others,
      schema: { hide: true },
      config: { methodNotAllowed: true },
      handler: async (request) => {
        throw new HttpError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url}; use ${allow}.`, { allow });
      },
    });
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the routes that only answer 405 for a path's other methods. */
    methodNotAllowed?: boolean;
  }
}

