import { useQuery } from '@tanstack/react-query';
import { request } from '../api/graphql-client.js';
import { ViewerDocument, type Role, type RunSummaryFragment } from '../gql/graphql.js';

/**
 * Who is signed in (GraphQL `viewer`) and what that allows, mirroring the server's policy
 * (CONTRACT §5): a viewer reads; an operator also starts runs and cancels the ones it started;
 * an admin does everything. The server decides in the end: this only keeps the page from
 * offering what it would refuse, and says why.
 */

export interface Viewer {
  readonly name: string | null;
  readonly role: Role;
  /** `off` (everyone is admin) or `tokens`. */
  readonly auth: string;
}

export const VIEWER_KEY = ['viewer'] as const;

/** The signed-in viewer; undefined while loading (or while the sign-in screen is up). */
export function useViewer(): Viewer | undefined {
  const viewer = useQuery({ queryKey: VIEWER_KEY, queryFn: () => request(ViewerDocument), staleTime: 60_000 });
  return viewer.data?.viewer;
}

export const roleLabel = (role: Role): string => role.toLowerCase();

/** Why `viewer` may not start runs, or undefined when it may (or is not known yet). */
export function cannotStart(viewer: Viewer | undefined): string | undefined {
  if (!viewer || viewer.role !== 'VIEWER') return undefined;
  return 'Your role is viewer: only an operator or an admin may start runs.';
}

/** Why `viewer` may not cancel `run`, or undefined when it may (or is not known yet). */
export function cannotCancel(viewer: Viewer | undefined, run: Pick<RunSummaryFragment, 'startedBy'>): string | undefined {
  if (!viewer || viewer.role === 'ADMIN') return undefined;
  if (viewer.role === 'VIEWER') return 'Your role is viewer: only an operator or an admin may cancel runs.';
  if (viewer.name !== null && viewer.name === run.startedBy) return undefined;
  return `Started by ${run.startedBy ?? 'someone else'}: an operator cancels only the runs it started; ask an admin.`;
}

/** Signs the browser out (`DELETE /api/session`); the cookie is cleared by the answer. */
export async function signOut(): Promise<void> {
  await fetch('/api/session', { method: 'DELETE', credentials: 'same-origin' });
}
