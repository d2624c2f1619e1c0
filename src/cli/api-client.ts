import { CliError, EXIT } from './cli-error.js';

/** The REST face (CONTRACT §4) as the CLI uses it, over plain fetch. */

export interface Connection {
  /** e.g. http://127.0.0.1:4000 */
  readonly url: string;
  /** Sent as `Authorization: Bearer`, never printed. */
  readonly token: string | undefined;
}

export interface StrategyView {
  name: string;
  description: string;
  parameters_schema: Record<string, unknown>;
  timeout_seconds: number | null;
}

export interface RunStatusView {
  run_id: string;
  strategy: string;
  status: string;
  progress_percent: number | null;
  stage: string | null;
  message: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: { code: string; message: string; stderr_tail: string[] } | null;
  result: unknown;
  parameters: Record<string, unknown>;
  queue_position: number | null;
  wait_reason: string | null;
  last_seq: number;
}

export interface ExecuteAnswer {
  run_id: string;
  status: string;
  sse_url: string;
  status_url: string;
}

export function authHeaders(connection: Connection): Record<string, string> {
  return connection.token ? { authorization: `Bearer ${connection.token}` } : {};
}

export class ApiClient {
  constructor(readonly connection: Connection) {}

  strategies(): Promise<StrategyView[]> {
    return this.request('GET', '/api/strategies');
  }

  execute(strategy: string, parameters: Record<string, unknown>, idempotencyKey?: string): Promise<ExecuteAnswer> {
    return this.request('POST', '/api/strategies/execute', { strategy, parameters }, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }

  status(runId: string): Promise<RunStatusView> {
    return this.request('GET', `/api/strategies/runs/${encodeURIComponent(runId)}/status`);
  }

  runs(query: { status?: string; strategy?: string; limit?: number }): Promise<{ runs: RunStatusView[]; next_cursor: string | null }> {
    const search = new URLSearchParams();
    if (query.status) search.set('status', query.status);
    if (query.strategy) search.set('strategy', query.strategy);
    if (query.limit !== undefined) search.set('limit', String(query.limit));
    const text = search.toString();
    return this.request('GET', `/api/strategies/runs${text ? `?${text}` : ''}`);
  }

  events(runId: string, afterSeq: number, limit = 500): Promise<{ events: Array<Record<string, unknown> & { seq: number; event_type: string }> }> {
    return this.request('GET', `/api/strategies/runs/${encodeURIComponent(runId)}/events?after_seq=${afterSeq}&limit=${limit}`);
  }

  cancel(runId: string): Promise<RunStatusView> {
    return this.request('POST', `/api/strategies/runs/${encodeURIComponent(runId)}/cancel`);
  }

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const { url } = this.connection;
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...authHeaders(this.connection),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw unreachable(url, error);
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = undefined;
    }
    if (response.ok && parsed !== undefined) return parsed as T;
    throw answerError(response.status, parsed, url);
  }
}

/** A failed request's message: the server's own words (`error.message` and each detail). */
export function answerError(status: number, body: unknown, url: string): CliError {
  const error = (body as { error?: { code?: string; message?: string; details?: Array<{ field: string; message: string }> } } | null)?.error;
  if (status === 401) return new CliError(`The server at ${url} wants a token (--token or STRATEGY_RUNNER_TOKEN)${error?.message ? `: ${error.message}` : ''}`);
  if (!error?.message) return new CliError(`The server at ${url} answered HTTP ${status}`, status >= 500 ? EXIT.unreachable : EXIT.refused);
  const details = (error.details ?? []).map((d) => `\n  - ${d.field}: ${d.message}`).join('');
  return new CliError(`${error.message}${details}`, status >= 500 ? EXIT.unreachable : EXIT.refused);
}

export function unreachable(url: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (error as Error)?.message ?? 'no answer';
  return new CliError(`Cannot reach the server at ${url} (${why}). Is it running? Point --url or STRATEGY_RUNNER_URL at it.`, EXIT.unreachable);
}
