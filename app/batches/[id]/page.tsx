'use client';

import Link from 'next/link';
import { use } from 'react';
import { BatchBanner } from '../../components/BatchBanner';
import { CancelButton } from '../../components/CancelButton';
import { ConnectionBadge } from '../../components/ConnectionBadge';
import { GridCanvas } from '../../components/GridCanvas';
import { ProgressLine } from '../../components/ProgressLine';
import { useBatch } from '../../client/use-batch';

/** The live view of one batch: a reload or a second tab shows the same cells, already painted. */
export default function BatchPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = use(params);
  const view = useBatch(id);
  const { batch, store } = view;

  if (view.state === 'not_found') {
    return (
      <main>
        <h1>No batch with this id</h1>
        <p>
          The link may be mistyped, or the batch was removed. <Link href="/">Start a new batch</Link>.
        </p>
      </main>
    );
  }

  return (
    <main>
      <header className="batch-header">
        <Link href="/">← New batch</Link>
        <ConnectionBadge connection={view.connection} />
      </header>
      <h1>{batch ? `Batch ${batch.rows} × ${batch.cols}` : 'Batch'}</h1>
      {view.state === 'error' && <p role="alert">{view.error}</p>}
      {batch && store ? (
        <>
          <ProgressLine batch={batch} painted={view.painted} failed={view.failed} completion={view.completion} />
          {batch.status === 'running' && view.workersAlive === 0 && (
            <p className="notice" role="status">
              No worker is running, so no cell is being painted. Start one with <code>npm run worker</code>; this batch
              expires at {new Date(batch.deadlineAt).toLocaleTimeString()} otherwise.
            </p>
          )}
          {view.completion && <BatchBanner completion={view.completion} />}
          <GridCanvas store={store} painted={view.painted} />
          {batch.status === 'running' && !view.completion && <CancelButton batchId={batch.id} />}
        </>
      ) : (
        <p aria-busy="true">Loading the batch…</p>
      )}
    </main>
  );
}
