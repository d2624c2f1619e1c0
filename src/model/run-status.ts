/**
 * The one vocabulary of run statuses. Storage, the runner and GraphQL use the upper-case
 * `RunStatus`; the REST face and the event format (CONTRACT §4) use its lower-case twin.
 */

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The statuses a run never leaves. */
export const TERMINAL_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const satisfies readonly RunStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: RunStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly RunStatus[]).includes(status);
}

/** `RUNNING` → `running`: statuses as the wire format writes them. */
export type WireStatus = Lowercase<RunStatus>;

export const toWireStatus = (status: RunStatus): WireStatus => status.toLowerCase() as WireStatus;

export function fromWireStatus(status: WireStatus): RunStatus {
  return status.toUpperCase() as RunStatus;
}
