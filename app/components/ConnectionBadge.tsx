import type { Connection } from '../client/use-batch';

const LABELS: Record<Connection, string> = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function ConnectionBadge({ connection }: { connection: Connection }) {
  return (
    <span className={`connection connection-${connection}`} data-testid="connection" role="status">
      {LABELS[connection]}
    </span>
  );
}
