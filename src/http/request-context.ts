import type { FastifyRequest } from 'fastify';
import { UnauthenticatedError } from '../errors.js';
import type { AppContext, RequestContext } from '../resolvers/context.js';

/** The resolvers' context for one request: the app's, plus who is asking. */
export function requestContext(ctx: AppContext, request: FastifyRequest | undefined): RequestContext {
  // Authentication runs first on every protected route; an open route has no principal to give.
  if (!request?.principal) throw new UnauthenticatedError();
  return { ...ctx, principal: request.principal };
}
