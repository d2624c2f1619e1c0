import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The secrets access control hands out: API tokens, session ids and a run's signed stream
 * ticket. Tokens and session ids are 256 random bits, stored only as their SHA-256 (a database
 * leak reveals no usable credential); a ticket is an HMAC the server can check without storage.
 */

const TOKEN_PREFIX = 'srt_';

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function generateSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function generateKey(): string {
  return randomBytes(32).toString('base64url');
}

/** How a token or session id is stored and looked up. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A stream ticket stays valid this long: the contract promises at least 24 h. */
export const STREAM_TICKET_TTL_SECONDS = 7 * 24 * 3600;

/**
 * `v1.<expiry>.<mac>`: read access to one run's event stream until `expiry` (seconds since the
 * epoch). Bound to the run id, so it opens no other run, and to nothing else.
 */
export function signStreamTicket(key: string, runId: string, now = Date.now()): string {
  const expiry = Math.floor(now / 1000) + STREAM_TICKET_TTL_SECONDS;
  return `v1.${expiry}.${mac(key, runId, expiry)}`;
}

export function verifyStreamTicket(key: string, ticket: string, runId: string, now = Date.now()): boolean {
  const match = /^v1\.(\d{1,12})\.([\w-]{43})$/.exec(ticket);
  if (!match) return false;
  const expiry = Number(match[1]);
  if (expiry * 1000 < now) return false;
  const expected = Buffer.from(mac(key, runId, expiry));
  const given = Buffer.from(match[2]!);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function mac(key: string, runId: string, expiry: number): string {
  return createHmac('sha256', key).update(`run-stream\n${runId}\n${expiry}`).digest('base64url');
}
