import { generateSessionId, hashSecret } from '../auth/credentials.js';
import { findActiveToken } from '../db/api-tokens.js';
import { deleteSession, insertSession } from '../db/sessions.js';
import { UnauthenticatedError } from '../errors.js';
import type { Principal } from '../model/role.js';
import type { AppContext } from './context.js';

/**
 * Browser sign-in (CONTRACT §5): a token, given once, becomes a session whose random id the
 * browser keeps in an HttpOnly cookie. Only its hash is stored; revoking the token ends it.
 * @throws UnauthenticatedError for an unknown or revoked token
 */
export async function signIn(ctx: AppContext, token: string): Promise<{ sessionId: string; principal: Principal }> {
  const found = await findActiveToken(ctx.db, hashSecret(token));
  if (!found) throw new UnauthenticatedError('This token is not valid (unknown or revoked).');
  const sessionId = generateSessionId();
  await insertSession(ctx.db, { idHash: hashSecret(sessionId), tokenName: found.name, ttlSeconds: ctx.config.sessionTtlSeconds });
  return { sessionId, principal: found };
}

export async function signOut(ctx: AppContext, sessionId: string): Promise<void> {
  await deleteSession(ctx.db, hashSecret(sessionId));
}
