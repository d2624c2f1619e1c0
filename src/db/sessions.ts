import { sql } from 'kysely';
import type { Role } from '../model/role.js';
import type { Db } from './database.js';

/** Browser sessions: the cookie holds a random id, the table its hash and the token it stands for. */

export async function insertSession(db: Db, session: { idHash: string; tokenName: string; ttlSeconds: number }): Promise<void> {
  await db
    .insertInto('sessions')
    .values({
      id_hash: session.idHash,
      token_name: session.tokenName,
      expires_at: sql<Date>`now() + make_interval(secs => ${session.ttlSeconds})`,
    })
    .execute();
}

/** The session's token, while the session has not expired and its token is not revoked. */
export async function findSessionToken(db: Db, idHash: string): Promise<{ name: string; role: Role } | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('api_tokens', 'api_tokens.name', 'sessions.token_name')
    .select(['api_tokens.name', 'api_tokens.role'])
    .where('sessions.id_hash', '=', idHash)
    .where('sessions.expires_at', '>', sql<Date>`now()`)
    .where('api_tokens.revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function deleteSession(db: Db, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
}

/** Expired sessions, a bounded batch at a time. */
export async function deleteExpiredSessions(db: Db, limit = 1000): Promise<number> {
  const result = await db
    .deleteFrom('sessions')
    .where('id_hash', 'in', (q) => q.selectFrom('sessions').select('id_hash').where('expires_at', '<=', sql<Date>`now()`).limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
