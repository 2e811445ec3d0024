'use client';

import { useState } from 'react';
import type { DashboardWorker } from '@/lib/dashboard/types';
import type { WorkerAck } from '@/lib/realtime/events';
import type { SteerAction } from '@/lib/workers/steer-worker';
import { formatAgo, formatCount, formatRate } from '../../client/format';

type Steer = (workerId: string, action: SteerAction) => Promise<WorkerAck>;

/**
 * Every worker heard from in the last hour; dead means three heartbeats missed. Each running
 * worker can be paused, resumed or drained on its own (it acts within a second or two); a drained
 * worker finishes what it holds, exits, and shows as stopped.
 */
export function WorkersTable({ workers, at, steer }: { workers: DashboardWorker[]; at: string; steer: Steer }) {
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
                <th scope="col">Tags</th>
                <th scope="col">Started</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col" className="num">
                  Cells served
                </th>
                <th scope="col" className="num">
                  In hand
                </th>
                <th scope="col" className="num">
                  Cells/s now
                </th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <WorkerRow key={w.id} worker={w} at={at} steer={steer} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function WorkerRow({ worker: w, at, steer }: { worker: DashboardWorker; at: string; steer: Steer }) {
  const [busy, setBusy] = useState(false);
  const [confirmDrain, setConfirmDrain] = useState(false);
  const [error, setError] = useState('');
  const inHand = Object.values(w.holding).reduce((n, cells) => n + cells, 0);
  // Dead and stopped ones hear nothing. A lease client (no pid) paused or drained is leased nothing more.
  const steerable = w.status === 'alive' || w.status === 'paused';

  const act = async (action: SteerAction) => {
    setBusy(true);
    setError('');
    setConfirmDrain(false);
    const ack = await steer(w.id, action);
    if (!ack.ok) setError(ack.error.message);
    setBusy(false);
  };

  return (
    <tr data-testid={`worker-${w.id}`} data-status={w.status} data-desired={w.desired}>
      <th scope="row">
        <code>{w.id}</code>
      </th>
      <td>{w.host}</td>
      <td className="num">{w.pid ?? '—'}</td>
      <td data-testid="worker-tags">{w.tags.join(', ')}</td>
      <td>
        <time dateTime={w.startedAt}>{new Date(w.startedAt).toLocaleTimeString()}</time>
      </td>
      <td>
        <time dateTime={w.lastHeartbeatAt}>{formatAgo(w.lastHeartbeatAt, at)}</time>
      </td>
      <td className="num">{formatCount(w.cellsServed)}</td>
      <td className="num" data-testid="worker-in-hand">
        {formatCount(inHand)}
      </td>
      <td className="num">{formatRate(w.cellsPerSecond)}</td>
      <td>
        <span className={`pill pill-${w.status}`} data-testid="worker-status">
          {w.status}
        </span>
        {w.desired === 'paused' && w.status === 'alive' && <span className="muted"> pausing…</span>}
      </td>
      <td>
        {steerable && !confirmDrain && (
          <>
            {w.desired === 'paused' ? (
              <button
                type="button"
                className="secondary small"
                onClick={() => void act('resume')}
                disabled={busy}
                aria-label={`Resume ${w.id}`}
              >
                Resume
              </button>
            ) : (
              <button
                type="button"
                className="secondary small"
                onClick={() => void act('pause')}
                disabled={busy}
                aria-label={`Pause ${w.id}`}
              >
                Pause
              </button>
            )}{' '}
            <button
              type="button"
              className="secondary small"
              onClick={() => setConfirmDrain(true)}
              disabled={busy}
              aria-label={`Drain ${w.id}`}
            >
              Drain
            </button>
          </>
        )}
        {steerable && confirmDrain && (
          <>
            <span>Finish its cells and exit? </span>
            <button type="button" className="small" onClick={() => void act('drain')} disabled={busy} aria-label={`Confirm drain ${w.id}`}>
              Drain
            </button>{' '}
            <button type="button" className="secondary small" onClick={() => setConfirmDrain(false)} disabled={busy}>
              Keep
            </button>
          </>
        )}
        {w.status === 'draining' && <span className="muted">finishing, then exits</span>}
        {error && (
          <span className="form-error" role="alert">
            {error}
          </span>
        )}
      </td>
    </tr>
  );
}
