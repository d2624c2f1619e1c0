import type { FastifyBaseLogger } from 'fastify';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isAppError } from '../../errors.js';

/**
 * Logs the errors of a GraphQL operation on the request's own logger (so with its request id):
 * a coded error (a user's mistake: BAD_USER_INPUT, NOT_FOUND, …) at info, by operation name and
 * codes only. The document and the variables are never logged: they may hold anything.
 * Unexpected errors are logged as errors where they are masked (yoga.ts).
 */
export function useOperationLog(fallback: FastifyBaseLogger): Plugin {
  const report = (context: unknown, operationName: string | null | undefined, errors: readonly (GraphQLError | Error)[]) => {
    const codes = errors.map(codeOf);
    requestLog(context, fallback).info({ operation: operationName ?? null, codes }, 'GraphQL errors');
  };
  return {
    onValidate({ context, params }) {
      return ({ result }) => {
        if (result.length > 0) report(context, (params as { operationName?: string }).operationName, result);
      };
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result }) {
          if (!(Symbol.asyncIterator in result) && result.errors?.length) report(args.contextValue, args.operationName, result.errors);
        },
      };
    },
  };
}

/** The Fastify request's logger that yoga's server context carries (`{ req }`), if any. */
function requestLog(context: unknown, fallback: FastifyBaseLogger): FastifyBaseLogger {
  if (typeof context !== 'object' || context === null || !('req' in context)) return fallback;
  const { req } = context;
  return typeof req === 'object' && req !== null && 'log' in req && isLogger(req.log) ? req.log : fallback;
}

function isLogger(value: unknown): value is FastifyBaseLogger {
  return typeof value === 'object' && value !== null && 'info' in value && typeof value.info === 'function';
}

/** The code a client sees; execution errors are seen here before masking gives them theirs. */
function codeOf(error: GraphQLError | Error): string {
  const cause = 'originalError' in error ? error.originalError : undefined;
  if (isAppError(cause)) return cause.code;
  const code = 'extensions' in error ? error.extensions?.code : undefined;
  if (typeof code === 'string') return code;
  return cause ? 'INTERNAL_SERVER_ERROR' : 'GRAPHQL_VALIDATION_FAILED';
}
