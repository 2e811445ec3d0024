import type { Connection } from '../client/use-batch';

const LABELS: Record<Connection, string> = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

/** Whether live updates are flowing; while they are not, the grid may lag the server. */
export function ConnectionBadge({ connection }: { connection: Connection }) {
  return (
    <span className={`connection connection-${connection}`} data-testid="connection" role="status">
      <span className="connection-dot" aria-hidden="true" />
      {LABELS[connection]}
    </span>
  );
}
