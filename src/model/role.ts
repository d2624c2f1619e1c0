/**
 * Who may do what (CONTRACT §5). Each role includes the ones before it:
 * - `viewer`: read strategies, runs and events, subscribe;
 * - `operator`: also start runs and cancel the runs it started;
 * - `admin`: everything, including cancelling anyone's run.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** True when `role` includes everything `needed` may do. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Who is asking: a token's name and role, or everyone-as-admin when access control is off. */
export interface Principal {
  /** The token's name (null when AUTH=off: one user on one machine). */
  readonly name: string | null;
  readonly role: Role;
  /** Set when the principal holds only a signed stream URL: it may read that one run's stream. */
  readonly onlyRunStream?: string;
}

export const LOCAL_ADMIN: Principal = Object.freeze({ name: null, role: 'admin' });
