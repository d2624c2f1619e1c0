import { sql } from 'kysely';
import type { Role } from '../model/role.js';
import type { Db } from './database.js';

/** API tokens: only their SHA-256 is stored; a revoked token stops working at once. */

export interface TokenRecord {
  readonly name: string;
  readonly role: Role;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
}

/** @returns false when a token with that name already exists (revoked ones included). */
export async function insertToken(db: Db, token: { name: string; role: Role; tokenHash: string }): Promise<boolean> {
  const inserted = await db
    .insertInto('api_tokens')
    .values({ name: token.name, role: token.role, token_hash: token.tokenHash })
    .onConflict((c) => c.doNothing())
    .returning('name')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function listTokens(db: Db): Promise<TokenRecord[]> {
  const rows = await db.selectFrom('api_tokens').select(['name', 'role', 'created_at', 'revoked_at', 'last_used_at']).orderBy('created_at').execute();
  return rows.map((row) => ({
    name: row.name,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  }));
}

/** @returns false when no active token has that name. */
export async function revokeToken(db: Db, name: string): Promise<boolean> {
  const revoked = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql`now()` })
    .where('name', '=', name)
    .where('revoked_at', 'is', null)
    .returning('name')
    .executeTakeFirst();
  if (revoked) await db.deleteFrom('sessions').where('token_name', '=', name).execute();
  return revoked !== undefined;
}

/** The active token with this hash, if any. */
export async function findActiveToken(db: Db, tokenHash: string): Promise<{ name: string; role: Role } | undefined> {
  return db
    .selectFrom('api_tokens')
    .select(['name', 'role'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}
