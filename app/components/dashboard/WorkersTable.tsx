import type { DashboardWorker } from '@/lib/dashboard/types';
import { formatAgo, formatCount, formatRate } from '../../client/format';

/** Every worker heard from in the last hour; dead means three heartbeats missed. */
export function WorkersTable({ workers, at }: { workers: DashboardWorker[]; at: string }) {
  return (
    <section aria-labelledby="workers-heading">
      <h2 id="workers-heading">Workers</h2>
      {workers.length === 0 ? (
        <p className="muted">
          No worker has been heard from in the last hour. Start one with <code>npm run worker</code>.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="dash-table" data-testid="workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Host</th>
                <th scope="col" className="num">
                  PID
                </th>
                <th scope="col">Started</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col" className="num">
                  Cells served
                </th>
                <th scope="col" className="num">
                  Cells/s now
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.id} data-testid={`worker-${w.id}`}>
                  <th scope="row">
                    <code>{w.id}</code>
                  </th>
                  <td>{w.host}</td>
                  <td className="num">{w.pid}</td>
                  <td>
                    <time dateTime={w.startedAt}>{new Date(w.startedAt).toLocaleTimeString()}</time>
                  </td>
                  <td>
                    <time dateTime={w.lastSeenAt}>{formatAgo(w.lastSeenAt, at)}</time>
                  </td>
                  <td className="num">{formatCount(w.cellsServed)}</td>
                  <td className="num">{formatRate(w.cellsPerSecond)}</td>
                  <td>
                    <span className={`pill pill-${w.status}`} data-testid="worker-status">
                      {w.status}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
