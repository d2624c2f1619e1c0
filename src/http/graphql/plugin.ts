import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../resolvers/context.js';
import { toErrorReply } from '../http-errors.js';
import { graphqlSseHandler } from './graphql-sse-route.js';
import { createYogaServer, runEventSharing } from './yoga.js';

/** GraphQL over HTTP and GraphiQL (yoga), and GraphQL over SSE in both modes (graphql-sse through yoga's envelop). */
export const GRAPHQL_ENDPOINT = '/graphql';
export const GRAPHQL_STREAM_ENDPOINT = '/graphql/stream';

/**
 * Mounts yoga on Fastify as its documentation shows: Fastify routes the request, yoga answers
 * it with a fetch `Response` that Fastify sends (streamed for subscriptions). Registered as an
 * encapsulated plugin, so its body parsing and error shape stay GraphQL's and REST keeps its own.
 */
export async function graphqlRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  // One per server: subscribers on either path share executions with each other.
  const sharing = runEventSharing();
  const yoga = createYogaServer(ctx, sharing);

  // JSON only: a form or text/plain POST needs no CORS preflight, so any web page could send
  // one (CSRF); those get 415. Fastify only collects the bytes (its body limit applies) and yoga
  // parses them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'application/graphql-response+json'], { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body.length > 0 ? body : undefined);
  });

  // Errors that happen before yoga sees the request (a body over the limit) in GraphQL's shape.
  app.setErrorHandler((error, request, reply) => {
    const answer = toErrorReply(error, { maxBodyBytes: ctx.config.maxBodyBytes });
    request.log[answer.expected ? 'info' : 'error']({ err: error, code: answer.code }, 'GraphQL request refused');
    return reply
      .code(answer.status)
      .headers(answer.headers)
      .type('application/json; charset=utf-8')
      .send({ errors: [{ message: answer.message, extensions: { code: answer.code } }] });
  });

  // Fastify sends the returned fetch `Response`: status, headers (GraphiQL's own CSP included)
  // and the body.
  const handler = (request: FastifyRequest, reply: FastifyReply) =>
    yoga.handleNodeRequestAndResponse(request, reply, { req: request });
  // Every method reaches the handlers, which answer the ones their protocol refuses with 405 + Allow.
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
  app.route({ url: GRAPHQL_ENDPOINT, method: [...methods], handler });
  // GraphQL over SSE writes its streams to the socket itself (see graphql-sse-route.ts).
  app.route({ url: GRAPHQL_STREAM_ENDPOINT, method: [...methods], handler: graphqlSseHandler(yoga, sharing) });
}
