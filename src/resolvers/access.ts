import { ForbiddenError } from '../errors.js';
import { roleAtLeast, type Principal, type Role } from '../model/role.js';

/**
 * The one access policy, used by both faces (CONTRACT §5): what each role may do, and which
 * runs an operator may cancel. The edge only establishes *who* is asking.
 */

/** @throws ForbiddenError when the principal's role is below `needed`. */
export function requireRole(principal: Principal, needed: Role, action: string): void {
  if (principal.onlyRunStream !== undefined || !roleAtLeast(principal.role, needed)) {
    throw new ForbiddenError(`Only an ${needed} (or above) may ${action}; this token's role is ${principal.role}.`);
  }
}

/** Operators cancel the runs they started; admins cancel any. */
export function requireCancelAllowed(principal: Principal, run: { id: string; startedBy: string | null }): void {
  requireRole(principal, 'operator', 'cancel runs');
  if (principal.role === 'admin' || (principal.name !== null && principal.name === run.startedBy)) return;
  throw new ForbiddenError(`Run ${run.id} was started by another token; only an admin may cancel it.`);
}
