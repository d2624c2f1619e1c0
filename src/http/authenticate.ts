import type { FastifyInstance, FastifyRequest } from 'fastify';
import { verifyStreamTicket, hashSecret } from '../auth/credentials.js';
import { isLoopback } from '../config.js';
import { findActiveToken } from '../db/api-tokens.js';
import { findSessionToken } from '../db/sessions.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import { LOCAL_ADMIN, type Principal } from '../model/role.js';
import type { AppContext } from '../resolvers/context.js';
import { HEALTH_PATHS } from './health.js';
import { HttpError } from './http-errors.js';
import { pathOf } from './request-path.js';

/**
 * Who is asking (CONTRACT §5), settled once per request before any route runs; what they may
 * do is decided by the resolvers' policy (src/resolvers/access.ts).
 *
 * - `AUTH=tokens`: `Authorization: Bearer TOKEN`, or the browser's session cookie, or — on a
 *   run's SSE route only — the signed `access_token` of that run's `sse_url`. No other
 *   credential is ever read from a URL. Nothing valid: 401 on every route but the probes.
 * - `AUTH=off` (one user on one machine): everyone is admin, but a request for another `Host`
 *   (DNS rebinding) or a state change from another `Origin` is refused, so no web page the
 *   user visits can start, cancel or read runs.
 * - Cookie-authenticated state changes must come from this origin (CSRF).
 */

export const SESSION_COOKIE = 'sr_session';
/** The one place a URL may carry a credential: a run's signed, read-only stream ticket. */
export const STREAM_TICKET_PARAM = 'access_token';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authentication before any handler runs; null only on open routes. */
    principal: Principal | null;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SSE_ROUTE = /^\/api\/strategies\/sse\/([^/?]+)$/;

export function installAuthentication(fastify: FastifyInstance, ctx: AppContext, streamKey: string): void {
  const { config, db } = ctx;
  const localMode = config.auth === 'off';
  const checkHost = localMode && isLoopback(config.host);
  fastify.decorateRequest('principal', null);

  fastify.addHook('onRequest', async (request) => {
    const path = pathOf(request.url);
    if (HEALTH_PATHS.has(path)) return;
    if (checkHost && !isThisServer(request, config.host)) {
      throw new HttpError('FORBIDDEN', `This server answers to localhost only, not to "${request.headers.host ?? ''}".`);
    }
    if (localMode) {
      if (STATE_CHANGING.has(request.method)) requireSameOrigin(request);
      request.principal = LOCAL_ADMIN;
      return;
    }

    const bearer = bearerToken(request);
    if (bearer !== undefined) {
      const token = await findActiveToken(db, hashSecret(bearer));
      if (!token) throw new UnauthenticatedError('This token is not valid (unknown or revoked).');
      request.principal = token;
      return;
    }
    const session = request.cookies[SESSION_COOKIE];
    if (session) {
      const token = await findSessionToken(db, hashSecret(session));
      if (token) {
        // A browser's cookie rides along on requests any page makes: state changes must come from us.
        if (STATE_CHANGING.has(request.method)) requireSameOrigin(request);
        request.principal = token;
        return;
      }
    }
    const ticketRun = request.method === 'GET' ? SSE_ROUTE.exec(path)?.[1] : undefined;
    const ticket = ticketRun !== undefined ? queryParam(request, STREAM_TICKET_PARAM) : undefined;
    if (ticketRun !== undefined && ticket !== undefined) {
      if (!verifyStreamTicket(streamKey, ticket, safeDecode(ticketRun))) {
        throw new UnauthenticatedError('This stream URL is not valid for this run (or has expired); ask for the run again.');
      }
      request.principal = { name: null, role: 'viewer', onlyRunStream: safeDecode(ticketRun) };
      return;
    }
    if (isOpen(request, path)) return;
    throw new UnauthenticatedError();
  });
}

/** What anyone may fetch: the web app's files, GraphiQL's page, signing in, the API's description. */
function isOpen(request: FastifyRequest, path: string): boolean {
  if (path === '/api/session' && request.method === 'POST') return true;
  if (path === '/api/openapi.json') return true;
  if (path === '/graphql' && request.method === 'GET' && (request.headers.accept ?? '').includes('text/html')) return true;
  return !(path.startsWith('/api/') || path === '/api' || path.startsWith('/graphql') || path === '/metrics');
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(header.trim());
  if (!match) throw new UnauthenticatedError('Send the token as "Authorization: Bearer TOKEN".');
  return match[1];
}

/** A request from a page of another site: its Origin (browsers send it on every POST) is not us. */
function requireSameOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') throw new ForbiddenError('Requests from other sites may not change anything here.');
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ForbiddenError(`Requests from origin "${origin}" may not change anything here.`);
  }
  if (host !== request.headers.host) throw new ForbiddenError(`Requests from ${origin} may not change anything here.`);
}

function isThisServer(request: FastifyRequest, configuredHost: string): boolean {
  const host = request.headers.host;
  if (host === undefined) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return isLoopback(hostname) || hostname === configuredHost.replace(/^\[|\]$/g, '');
}

function queryParam(request: FastifyRequest, name: string): string | undefined {
  const query = request.url.indexOf('?');
  if (query === -1) return undefined;
  return new URLSearchParams(request.url.slice(query + 1)).get(name) ?? undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

