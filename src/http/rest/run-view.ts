import type { RunRecord } from '../../db/runs.js';
import type { QueueInfo } from '../../resolvers/runs.js';

/** The REST status object of CONTRACT §4: snake_case, lower-case status. */
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
  /** Beyond the contract: what GraphQL's `Run` also shows. */
  parameters: Record<string, unknown>;
  queue_position: number | null;
  wait_reason: string | null;
  last_seq: number;
  events_lost: number;
}

export function toRunStatusView(run: RunRecord, queue: QueueInfo): RunStatusView {
  return {
    run_id: run.id,
    strategy: run.strategy,
    status: run.status.toLowerCase(),
    progress_percent: run.progressPercent,
    stage: run.stage,
    message: run.message,
    created_at: run.createdAt,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    exit_code: run.exitCode,
    error: run.error ? { code: run.error.code, message: run.error.message, stderr_tail: [...run.error.stderrTail] } : null,
    result: run.result ?? null,
    parameters: run.parameters,
    queue_position: queue.position,
    wait_reason: queue.waitReason,
    last_seq: run.lastSeq,
    events_lost: run.eventsLost,
  };
}

/** Where a run's stream and status live (relative to the server's origin). */
export const runUrls = (runId: string) => ({
  sse_url: `/api/strategies/sse/${runId}`,
  status_url: `/api/strategies/runs/${runId}/status`,
});
