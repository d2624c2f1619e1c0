import { listTokens as listTokenRows, type TokenRecord } from '../db/api-tokens.js';
import type { Principal } from '../model/role.js';
import { requireRole } from './access.js';
import type { RequestContext } from './context.js';

/** The API tokens (names, roles, dates; never a secret). Admins only. @throws ForbiddenError */
export async function listTokens(ctx: RequestContext): Promise<TokenRecord[]> {
  requireRole(ctx.principal, 'admin', 'list tokens');
  return listTokenRows(ctx.db);
}

/** Who is asking, as the server sees it. */
export function whoAmI(ctx: RequestContext): Principal & { auth: 'off' | 'tokens' } {
  return { name: ctx.principal.name, role: ctx.principal.role, auth: ctx.config.auth };
}
