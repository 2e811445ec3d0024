'use client';

import Link from 'next/link';
import { formatCount } from '../client/format';
import { useBatch } from '../client/use-batch';
import { formatComplex, pictureOf, viewName, type PictureBatch } from '../client/zoom';
import { ActivityPanel } from './ActivityPanel';
import { BatchBanner } from './BatchBanner';
import { CancelButton } from './CancelButton';
import { ColorByToggle, useColorBy } from './ColorByWorker';
import { ConnectionBadge } from './ConnectionBadge';
import { GridCanvas } from './GridCanvas';
import { PictureCanvas } from './PictureCanvas';
import { ProgressLine } from './ProgressLine';
import { StartCountdown } from './StartCountdown';
import { WorkerLegend } from './WorkerLegend';
import { useZoom, ZoomedFrom, ZoomHint } from './ZoomControls';

/**
 * The live view of one batch: its grid of colours, or its picture's tiles. A reload or a second tab
 * joins again and shows the same cells.
 */
export function BatchLive({ batchId }: { batchId: string }) {
  const view = useBatch(batchId);
  const { batch, store, tiles } = view;
  const [colorBy, setColorBy] = useColorBy();
  const picture = batch ? pictureOf(batch) : null;
  const ended = view.completion !== null;
  const zoom = useZoom(picture, ended);

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
    <main className="batch-main">
      <header className="batch-header">
        <Link href="/">← Finish Line</Link>
        <ConnectionBadge connection={view.connection} />
      </header>
      <ZoomedFrom />
      <h1>
        {picture
          ? `Mandelbrot ${picture.cols * picture.tileSize} × ${picture.rows * picture.tileSize}`
          : batch
            ? `Batch ${batch.rows} × ${batch.cols}`
            : 'Batch'}
        {batch && (
          <span className="priority-badge" data-testid="priority" title="Queued cells of higher-priority batches go first (0–100)">
            priority {batch.priority}
          </span>
        )}
      </h1>
      {picture && <PictureParams picture={picture} />}
      <p className="batch-id">
        <code>{batchId}</code>
      </p>
      <p className="form-error" aria-live="assertive">
        {view.error}
      </p>
      {batch && store ? (
        <div className="batch-stage">
          <div className="stage-main">
            {batch.status === 'scheduled' && !view.completion ? (
              <StartCountdown batch={batch} />
            ) : (
              <ProgressLine batch={batch} finished={view.finished} failed={view.failed} completion={view.completion} />
            )}
            {batch.status === 'running' && view.workersAlive === 0 && (
              <p className="notice">
                No worker is running, so no cell is being worked on. Start one with <code>npm run worker</code>; otherwise this batch
                expires at {new Date(batch.deadlineAt).toLocaleTimeString()}.
              </p>
            )}
            {batch.status === 'running' && !!view.workersAlive && view.servedTags && !view.servedTags.includes(batch.tag) && (
              <p className="notice" data-testid="tag-unserved">
                No worker serves tag <code>{batch.tag}</code>, so no cell is being worked on: start one with{' '}
                <code>WORKER_TAGS={batch.tag}</code>; otherwise this batch expires at {new Date(batch.deadlineAt).toLocaleTimeString()}.
              </p>
            )}
            {batch.status === 'running' && view.intakePaused && (
              <p className="notice" data-testid="intake-paused">
                An operator has paused intake on the <Link href="/dashboard">dashboard</Link>: workers take no new cells until it is
                resumed. Cells already taken still finish.
              </p>
            )}
            {view.loadingCells && (
              <p className="notice" aria-busy="true" data-testid="loading-cells">
                Loading {batch.done.toLocaleString('en-US')} finished cells…
              </p>
            )}
            <BatchBanner batch={batch} completion={view.completion} />
            <ColorByToggle colorBy={colorBy} onChange={setColorBy} />
            {colorBy === 'worker' && (
              <WorkerLegend store={store} finished={view.finished} attributed={view.attributed} failed={view.failed} />
            )}
            {picture && tiles ? (
              <>
                <PictureCanvas
                  batch={picture}
                  store={store}
                  tiles={tiles}
                  finished={view.finished}
                  colorBy={colorBy}
                  finishCell={view.completion?.status === 'completed' ? (view.completion.lastCell ?? batch.lastCell) : null}
                  onZoom={zoom.onZoom}
                />
                <ZoomHint picture={picture} ended={ended} zoom={zoom} />
              </>
            ) : (
              <GridCanvas store={store} finished={view.finished} colorBy={colorBy} />
            )}
            {(batch.status === 'running' || batch.status === 'scheduled') && <CancelButton batchId={batch.id} />}
          </div>
          <ActivityPanel batch={batch} store={store} activity={view.activity} completion={view.completion} picture={picture !== null} />
        </div>
      ) : (
        <p aria-busy="true">Loading the batch…</p>
      )}
    </main>
  );
}

/** "Seahorse Valley · centre −0.7453 + 0.1127i · width 0.01 · 1,000 iterations · 24 × 32 tiles of 32 px" */
function PictureParams({ picture }: { picture: PictureBatch }) {
  const name = viewName(picture);
  const { view } = picture;
  // Enough decimals to tell this view's centre from its neighbours a tenth of a width away.
  const decimals = Math.min(15, Math.max(2, Math.ceil(-Math.log10(view.width)) + 2));
  return (
    <p className="picture-params" data-testid="picture-params">
      {name && <strong>{name} · </strong>}
      <span className="nowrap">centre {formatComplex(view.x, view.y, decimals)}</span>
      {' · '}
      <span className="nowrap">width {String(Number(view.width.toPrecision(3)))}</span>
      {' · '}
      <span className="nowrap">{formatCount(picture.maxIterations)} iterations</span>
      {' · '}
      <span className="nowrap">
        {picture.rows} × {picture.cols} tiles of {picture.tileSize} px
      </span>
    </p>
  );
}
