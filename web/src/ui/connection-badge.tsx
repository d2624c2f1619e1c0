import type { ConnectionState } from '../api/subscriptions.js';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  stale: 'Disconnected: data may be stale',
  done: 'Up to date',
};

/** The state of a live stream, in words (and a colour for those who see it). */
export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span className={`connection connection-${state}`} data-testid="connection">
      <span className="dot" aria-hidden="true" />
      {LABELS[state]}
    </span>
  );
}
