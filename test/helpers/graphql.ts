import { createClient, type Client, type ExecutionResult } from 'graphql-sse';

/** A plain GraphQL over HTTP request (queries and mutations). */
export async function gql<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<ExecutionResult<T, { code?: string; details?: unknown }>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as ExecutionResult<T, { code?: string; details?: unknown }>;
}

export type SseMode = 'distinct' | 'single';

/** The reference `graphql-sse` client against /graphql/stream, in either protocol mode. */
export function sseClient(url: string, mode: SseMode): Client {
  return createClient({ url: `${url}/graphql/stream`, singleConnection: mode === 'single', retryAttempts: 0 });
}

/** Runs a subscription to completion and returns every payload (errors included). */
export async function collectSubscription<T = Record<string, unknown>>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  onPayload?: (payload: ExecutionResult<T>) => void,
): Promise<ExecutionResult<T>[]> {
  const payloads: ExecutionResult<T>[] = [];
  const subscription = client.iterate<T>({ query, variables });
  for await (const payload of subscription) {
    payloads.push(payload as ExecutionResult<T>);
    onPayload?.(payload as ExecutionResult<T>);
  }
  return payloads;
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
