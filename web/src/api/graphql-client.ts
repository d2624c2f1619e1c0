import type { TypedDocumentString } from '../gql/graphql.js';

/**
 * Queries and mutations over `POST /graphql` (same origin, so a session cookie rides along).
 * Errors come back typed: the sign-in screen listens for `AuthRequiredError`, the launch form
 * reads `details` of a `BAD_USER_INPUT`.
 */

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** A GraphQL error the server answered with a code (`BAD_USER_INPUT`, `CONFLICT`, …). */
export class GraphQLRequestError extends Error {
  override readonly name: string = 'GraphQLRequestError';
  constructor(
    message: string,
    readonly code: string,
    readonly details: readonly FieldProblem[] = [],
  ) {
    super(message);
  }
}

/** The server wants a signed-in session (`UNAUTHENTICATED`, HTTP 401). */
export class AuthRequiredError extends GraphQLRequestError {
  override readonly name: string = 'AuthRequiredError';
}

type Listener = () => void;
const authListeners = new Set<Listener>();

/** Called whenever any request meets `UNAUTHENTICATED`. */
export function onAuthRequired(listener: Listener): () => void {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}

export function reportAuthRequired(): void {
  for (const listener of authListeners) listener();
}

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; details?: FieldProblem[] };
}

export function toRequestError(errors: readonly GraphQLErrorShape[], status?: number): GraphQLRequestError {
  const first = errors[0];
  const code = first?.extensions?.code ?? (status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL_SERVER_ERROR');
  const message = first?.message ?? `The server answered ${status ?? 'an error'}`;
  if (code === 'UNAUTHENTICATED') {
    reportAuthRequired();
    return new AuthRequiredError(message, code);
  }
  return new GraphQLRequestError(message, code, first?.extensions?.details ?? []);
}

export async function request<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ query: document.toString(), variables }),
    });
  } catch {
    throw new GraphQLRequestError('The server cannot be reached.', 'NETWORK');
  }
  let body: { data?: TResult | null; errors?: GraphQLErrorShape[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    if (response.status === 401) throw toRequestError([], 401);
    throw new GraphQLRequestError(`The server answered ${response.status} without a GraphQL body.`, 'BAD_RESPONSE');
  }
  if (body.errors?.length) throw toRequestError(body.errors, response.status);
  if (response.status === 401) throw toRequestError([], 401);
  if (!body.data) throw new GraphQLRequestError('The server answered without data.', 'BAD_RESPONSE');
  return body.data;
}
