'use client';

import Link from 'next/link';
import { useBatch } from '../client/use-batch';
import { BatchBanner } from './BatchBanner';
import { CancelButton } from './CancelButton';
import { ColorByToggle, useColorBy } from './ColorByWorker';
import { ConnectionBadge } from './ConnectionBadge';
import { GridCanvas } from './GridCanvas';
import { ProgressLine } from './ProgressLine';
import { WorkerLegend } from './WorkerLegend';

/** The live view of one batch. A reload or a second tab joins again and shows the same cells. */
export function BatchLive({ batchId }: { batchId: string }) {
  const view = useBatch(batchId);
  const { batch, store } = view;
  const [colorBy, setColorBy] = useColorBy();

  if (view.state === 'not_found') {
    return (
      <main>
        <h1>No batch with this id</h1>
        <p>
          Check the link, or <Link href="/">start a new batch</Link>.
        </p>
      </main>
    );
  }

  return (
    <main>
      <header className="batch-header">
        <Link href="/">← Finish Line</Link>
        <ConnectionBadge connection={view.connection} />
      </header>
      <h1>
        {batch ? `Batch ${batch.rows} × ${batch.cols}` : 'Batch'}
        {batch && (
          <span className="priority-badge" data-testid="priority" title="Queued cells of higher-priority batches go first (0–100)">
            priority {batch.priority}
          </span>
        )}
      </h1>
      <p className="batch-id">
        <code>{batchId}</code>
      </p>
      <p className="form-error" aria-live="assertive">
        {view.error}
      </p>
      {batch && store ? (
        <>
          <ProgressLine batch={batch} painted={view.painted} failed={view.failed} completion={view.completion} />
          {batch.status === 'running' && view.workersAlive === 0 && (
            <p className="notice">
              No worker is running, so no cell is being painted. Start one with <code>npm run worker</code>; otherwise this
              batch expires at {new Date(batch.deadlineAt).toLocaleTimeString()}.
            </p>
          )}
          {batch.status === 'running' && view.intakePaused && (
            <p className="notice" data-testid="intake-paused">
              An operator has paused intake on the <Link href="/dashboard">dashboard</Link>: workers take no new cells
              until it is resumed. Cells already taken still finish.
            </p>
          )}
          {view.loadingCells && (
            <p className="notice" aria-busy="true" data-testid="loading-cells">
              Loading {batch.done.toLocaleString('en-US')} finished cells…
            </p>
          )}
          <BatchBanner batch={batch} completion={view.completion} />
          <ColorByToggle colorBy={colorBy} onChange={setColorBy} />
          {colorBy === 'worker' && <WorkerLegend store={store} painted={view.painted} attributed={view.attributed} failed={view.failed} />}
          <GridCanvas store={store} painted={view.painted} colorBy={colorBy} />
          {batch.status === 'running' && <CancelButton batchId={batch.id} />}
        </>
      ) : (
        <p aria-busy="true">Loading the batch…</p>
      )}
    </main>
  );
}
