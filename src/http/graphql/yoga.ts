import { GraphQLError } from 'graphql';
import { createYoga, maskError as defaultMaskError, type YogaServerInstance } from 'graphql-yoga';
import { isAppError } from '../../errors.js';
import type { FastifyRequest } from 'fastify';
import type { AppContext, RequestContext } from '../../resolvers/context.js';
import { requestContext } from '../request-context.js';
import { useGraphiQLPage } from './use-graphiql-page.js';
import { useLimits } from './use-limits.js';
import { useOperationLog } from './use-operation-log.js';
import { useOperationMetrics } from './use-operation-metrics.js';
import { SharedExecutions, useSharedSubscriptionExecution } from './use-shared-subscription-execution.js';
import { schema } from './schema/index.js';

/** Example shown to people opening GraphiQL for the first time. */
const DEFAULT_QUERY = `# Start a run, then paste its id into the subscription below.
mutation Execute {
  executeStrategy(input: { strategy: "bullish_strategy", parameters: { universe: "dow30" } }) {
    id
    status
    queuePosition
  }
}

subscription Watch($runId: ID!) {
  runEvents(runId: $runId) {
    seq
    eventType
    stage
    progressPercent
    currentItem
    message
    status
  }
}
`;

/**
 * A run's subscribers with the same selection share one execution per live event (yoga's path
 * through the plugin, and the multiplexed GraphQL-SSE stream). The RunEvent fields read nothing
 * of the requester; the role is in the key all the same.
 */
export function runEventSharing(): SharedExecutions<RequestContext> {
  return new SharedExecutions<RequestContext>({ fields: ['runEvents'], contextKey: (context) => context.principal.role });
}

/**
 * Our errors keep their code and message; anything unexpected is masked (no stack traces,
 * no internals), whatever NODE_ENV says.
 */
export function maskError(error: unknown, message: string): Error {
  // Duck-typed: under some loaders yoga and our code see two copies of `graphql`, so
  // `instanceof GraphQLError` cannot be trusted here.
  const located = error as Partial<Pick<GraphQLError, 'originalError' | 'nodes' | 'path'>>;
  const original = located?.originalError ?? error;
  if (isAppError(original)) {
    return new GraphQLError(original.message, {
      nodes: located.nodes ?? null,
      path: located.path,
      extensions: { code: original.code, ...(original.details ? { details: original.details } : {}) },
    });
  }
  return defaultMaskError(error, message, false);
}

/**
 * yoga's logger on ours. yoga reports every error it masks (ours included, since masking gives
 * them their code) as a GraphQLError whose text quotes the document: a coded error is a user's
 * mistake, already logged at info by useOperationLog; anything else is logged by its cause.
 */
function yogaLogging(log: AppContext['log']) {
  const text = (args: unknown[]) => args.map(String).join(' ');
  return {
    debug: (...args: unknown[]) => log.debug(text(args)),
    info: (...args: unknown[]) => log.info(text(args)),
    warn: (...args: unknown[]) => log.warn(text(args)),
    error: (...args: unknown[]) => {
      for (const arg of args) {
        const cause = arg instanceof Error && 'originalError' in arg && arg.originalError ? arg.originalError : arg;
        if (isAppError(cause)) continue;
        if (cause instanceof Error) log.error({ err: cause }, 'GraphQL operation failed');
        else log.error(String(cause));
      }
    },
  };
}

export function createYogaServer(
  ctx: AppContext,
  sharing: SharedExecutions<RequestContext> = runEventSharing(),
): YogaServerInstance<{ req?: FastifyRequest }, RequestContext> {
  return createYoga<{ req?: FastifyRequest }, RequestContext>({
    schema,
    // Who is asking, as the HTTP edge established it (every GraphQL route is behind it).
    context: ({ req }) => requestContext(ctx, req),
    graphqlEndpoint: '/graphql',
    // No CORS and no multipart: otherwise any web page a user opens could start and cancel
    // runs on their local server (a multipart POST needs no preflight).
    cors: false,
    multipart: false,
    // One operation per request: an array of a thousand would escape every per-document limit.
    batching: false,
    maskedErrors: { maskError },
    // Served by useGraphiQLPage (inlined assets, cached); yoga's own page would load a CDN.
    graphiql: false,
    landingPage: false,
    logging: yogaLogging(ctx.log),
    plugins: [
      useGraphiQLPage('/graphql', { title: 'strategy-runner', defaultQuery: DEFAULT_QUERY, subscriptionsProtocol: 'GRAPHQL_SSE' }),
      useSharedSubscriptionExecution(sharing),
      useOperationLog(ctx.log),
      ...useLimits(),
      useOperationMetrics(ctx.metrics.registry),
    ],
  });
}
