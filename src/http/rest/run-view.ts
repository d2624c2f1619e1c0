import type { RunRecord } from '../../db/runs.js';
import type { QueueInfo } from '../../resolvers/runs.js';
import { toWireStatus } from '../../model/run-status.js';
import { STREAM_TICKET_PARAM } from '../authenticate.js';
import type { RunStatusView } from './schemas.js';

/** The REST status object of CONTRACT §4: snake_case, lower-case status. */

export function toRunStatusView(run: RunRecord, queue: QueueInfo): RunStatusView {
  return {
    run_id: run.id,
    strategy: run.strategy,
    status: toWireStatus(run.status),
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
    started_by: run.startedBy,
    cancelled_by: run.cancelledBy,
    events_lost: run.eventsLost,
  };
}

/**
 * Where a run's stream and status live (relative to the server's origin). The stream URL carries
 * a signed, read-only ticket for this run alone, so `new EventSource(sse_url)` needs no header.
 */
export const runUrls = (runId: string, streamTicket: string) => ({
  sse_url: `/api/strategies/sse/${runId}?${STREAM_TICKET_PARAM}=${streamTicket}`,
  status_url: `/api/strategies/runs/${runId}/status`,
});
