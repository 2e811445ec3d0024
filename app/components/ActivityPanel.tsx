'use client';

import type { BatchActivityEvent, BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import type { CellStore } from '../client/cell-store';
import { formatCount } from '../client/format';
import { hexOf, workerRgb } from '../client/worker-palette';

const byName = new Intl.Collator('en', { numeric: true });

/**
 * "What you are seeing": the fan-out and fan-in behind the picture, in numbers and three short
 * captions. Fed by `batch:activity` (about once a second while the batch runs) and by what the
 * page already knows: the completion and its last cell.
 */
export function ActivityPanel({
  batch,
  store,
  activity,
  completion,
  picture,
}: {
  batch: Batch;
  store: CellStore;
  activity: BatchActivityEvent | null;
  completion: BatchCompletedEvent | null;
  picture: boolean;
}) {
  const ended = completion !== null || (batch.status !== 'running' && batch.status !== 'scheduled');
  const unit = picture ? 'tile' : 'cell';
  const total = batch.total;
  const done = completion?.done ?? activity?.done ?? batch.done;
  const failed = completion?.failed ?? activity?.failed ?? batch.failed;
  const enqueued = ended ? Math.max(batch.enqueued, activity?.enqueued ?? 0) : (activity?.enqueued ?? batch.enqueued);
  const queued = ended ? 0 : (activity?.queued ?? null);
  const inFlight = ended
    ? []
    : [...(activity?.inFlight ?? [])].filter((w) => w.cells > 0).sort((a, b) => byName.compare(a.worker, b.worker));
  const held = inFlight.reduce((n, w) => n + w.cells, 0);
  const colorOf = (worker: string) => hexOf(workerRgb(store.workers.slot(worker)));
  const last = completion?.lastCell ?? batch.lastCell;
  const lastWorker = completion?.lastWorker ?? batch.lastWorker;

  return (
    <section className="activity" aria-labelledby="activity-heading" data-testid="activity">
      <h2 id="activity-heading">What you are seeing</h2>
      <dl className="activity-stats">
        <div data-testid="activity-queued" data-count={queued ?? ''}>
          <dt>Queued</dt>
          <dd>
            {queued === null ? '—' : formatCount(queued)}
            <span className="of">waiting</span>
          </dd>
        </div>
        <div data-testid="activity-in-flight" data-count={held}>
          <dt>In flight</dt>
          <dd>
            {formatCount(held)}
            <span className="of">at workers</span>
          </dd>
        </div>
        <div data-testid="activity-done" data-count={done + failed}>
          <dt>Done</dt>
          <dd>
            {formatCount(done + failed)}
            <span className="of">of {formatCount(total)}</span>
          </dd>
        </div>
      </dl>
      <ul className="activity-workers" aria-label="Jobs each worker holds">
        {inFlight.length === 0 ? (
          <li className="muted">{ended ? 'No worker holds a job: the queue is empty.' : 'No worker holds a job right now.'}</li>
        ) : (
          inFlight.map((w) => (
            <li key={w.worker} data-worker={w.worker} data-count={w.cells}>
              <span className="swatch" style={{ background: colorOf(w.worker) }} aria-hidden="true" />
              <code>{w.worker}</code>
              <span className="count">
                {formatCount(w.cells)} {unit}
                {w.cells === 1 ? '' : 's'}
              </span>
            </li>
          ))
        )}
      </ul>
      <p className="activity-last" data-testid="activity-last">
        {last ? (
          <>
            Last across the line: <span className="nowrap">{`${unit} (${last.row}, ${last.col})`}</span>
            {lastWorker && (
              <>
                {' by '}
                <span className="nowrap">
                  <span className="swatch" style={{ background: colorOf(lastWorker) }} aria-hidden="true" />
                  <code>{lastWorker}</code>
                </span>
              </>
            )}
          </>
        ) : ended ? (
          'The batch ended before its last ' + unit + ' finished.'
        ) : (
          'Last across the line: not yet.'
        )}
      </p>
      <ol className="activity-story">
        <li>
          <strong>Fan-out.</strong> Start put one job per {unit} in a Postgres queue: {formatCount(total)} jobs
          {enqueued < total ? `, ${formatCount(enqueued)} enqueued so far` : ''}.
        </li>
        <li>
          <strong>Workers.</strong> Separate processes each take a few jobs, {picture ? 'render their tiles' : 'pick their colours'} and
          record them in one transaction. Each commit reaches this page over a socket{picture ? ', pixels and all' : ''}.
        </li>
        <li>
          <strong>Fan-in.</strong> Every recorded {unit} moves a counter on the batch’s row. The one that brings it to {formatCount(total)}{' '}
          ends the batch, exactly once, whichever worker gets there first.
        </li>
      </ol>
    </section>
  );
}
