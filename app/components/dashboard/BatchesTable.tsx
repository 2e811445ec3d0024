'use client';

import Link from 'next/link';
import { useState } from 'react';
import type { DashboardBatch } from '@/lib/dashboard/types';
import type { CancelAck } from '@/lib/realtime/events';
import { formatCount, formatDuration } from '../../client/format';

/** The latest batches, newest first, with a Cancel control on those not yet ended (running or scheduled). */
export function BatchesTable({
  batches,
  at,
  cancel,
}: {
  batches: DashboardBatch[];
  at: string;
  cancel(batchId: string): Promise<CancelAck>;
}) {
  return (
    <section aria-labelledby="batches-heading">
      <h2 id="batches-heading">Batches</h2>
      {batches.length === 0 ? (
        <p className="muted">
          No batch yet. <Link href="/">Start one</Link>.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="dash-table" data-testid="batches">
            <thead>
              <tr>
                <th scope="col">Batch</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Priority
                </th>
                <th scope="col" className="progress-col">
                  Progress
                </th>
                <th scope="col" className="num">
                  Failed
                </th>
                <th scope="col" className="num">
                  Duration
                </th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {batches.map((b) => (
                <BatchRow key={b.id} batch={b} at={at} cancel={cancel} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function BatchRow({ batch: b, at, cancel }: { batch: DashboardBatch; at: string; cancel(batchId: string): Promise<CancelAck> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const finished = b.done + b.failed;
  const end = b.finishedAt ?? at;
  const size = `${b.rows} × ${b.cols}`;

  const onCancel = async () => {
    setBusy(true);
    setError('');
    const ack = await cancel(b.id);
    // already_finished: it ended first; the next snapshot shows how.
    if (!ack.ok && ack.error.code !== 'already_finished') setError(ack.error.message);
    setBusy(false);
  };

  return (
    <tr data-testid={`batch-${b.id}`} data-status={b.status} data-finished={finished}>
      <th scope="row">
        <Link href={`/batches/${b.id}`} title={b.id}>
          {size}
        </Link>
        <span className="batch-short-id">{b.id.slice(0, 8)}</span>
      </th>
      <td>
        <span className={`status status-${b.status}`} data-testid="batch-status">
          {b.status}
        </span>
      </td>
      <td className="num" data-testid="batch-priority">
        {b.priority}
      </td>
      <td className="progress-col">
        <progress max={b.total} value={finished} aria-label={`Batch ${size}: cells finished`} />
        <span className="progress-numbers" data-testid="batch-progress">
          {formatCount(finished)} / {formatCount(b.total)}
        </span>
      </td>
      <td className="num">{b.failed > 0 ? <span className="bad">{formatCount(b.failed)}</span> : '0'}</td>
      <td className="num">{formatDuration(Date.parse(end) - Date.parse(b.createdAt))}</td>
      <td>
        {(b.status === 'running' || b.status === 'scheduled') && (
          <button
            type="button"
            className="secondary small"
            onClick={() => void onCancel()}
            disabled={busy}
            aria-label={`Cancel batch ${size} ${b.id.slice(0, 8)}`}
          >
            {busy ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
        {error && (
          <span className="form-error" role="alert">
            {error}
          </span>
        )}
      </td>
    </tr>
  );
}
