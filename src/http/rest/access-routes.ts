import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AppContext } from '../../resolvers/context.js';
import { signIn, signOut } from '../../resolvers/sessions.js';
import { listTokens } from '../../resolvers/tokens.js';
import { requestContext } from '../request-context.js';
import { SESSION_COOKIE } from '../authenticate.js';
import { ErrorBody, refusals } from './schemas.js';

const tags = ['access'];

const SignInRequest = z
  .object({ token: z.string({ error: 'is required' }).min(1, 'must be a non-empty string').max(512) }, { error: 'must be an object' })
  .meta({ id: 'SignInRequest' });

const SessionView = z
  .object({
    name: z.string().nullable().describe('The token’s name (null when AUTH=off).'),
    role: z.enum(['viewer', 'operator', 'admin']),
    auth: z.enum(['off', 'tokens']),
  })
  .meta({ id: 'Session' });

const TokenView = z
  .object({
    name: z.string(),
    role: z.enum(['viewer', 'operator', 'admin']),
    created_at: z.iso.datetime(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Token' });

/**
 * `GET /api/tokens` lists the API tokens (admins only; never a secret). `POST /api/session` signs a browser in with a token (an HttpOnly, SameSite=Strict cookie);
 * `GET` says who is signed in; `DELETE` signs out. The cookie is Secure behind HTTPS.
 */
export async function accessRoutes(parent: FastifyInstance, ctx: AppContext): Promise<void> {
  const app = parent.withTypeProvider<ZodTypeProvider>();

  app.post('/api/session', {
    schema: { tags, summary: 'Sign a browser in with a token', body: SignInRequest, response: { 200: SessionView, 400: ErrorBody, 415: ErrorBody, ...refusals } },
  }, async (request, reply) => {
    const { sessionId, principal } = await signIn(ctx, request.body.token);
    void reply.setCookie(SESSION_COOKIE, sessionId, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      path: '/',
      maxAge: ctx.config.sessionTtlSeconds,
    });
    return { name: principal.name, role: principal.role, auth: ctx.config.auth };
  });

  app.get('/api/session', {
    schema: { tags, summary: 'Who is signed in', response: { 200: SessionView, ...refusals } },
  }, async (request) => ({ name: request.principal!.name, role: request.principal!.role, auth: ctx.config.auth }));

  app.get('/api/tokens', {
    schema: { tags, summary: 'API tokens (admins only)', response: { 200: TokenView.array(), ...refusals } },
  }, async (request) =>
    (await listTokens(requestContext(ctx, request))).map((token) => ({
      name: token.name,
      role: token.role,
      created_at: token.createdAt,
      revoked_at: token.revokedAt,
    })),
  );

  app.delete('/api/session', {
    schema: { tags, summary: 'Sign out', response: { 204: z.null().describe('Signed out.'), ...refusals } },
  }, async (request, reply) => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (sessionId) await signOut(ctx, sessionId);
    return reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send(null);
  });
}
