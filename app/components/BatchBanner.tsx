import type { ReactNode } from 'react';
import type { BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import { formatCount, formatSeconds } from '../client/format';

/**
 * The finish line, and once the batch's image is built, a link to download it. The status region is always in the page, empty until the end, because screen
 * readers announce changes to a live region, not regions that appear already filled.
 */
export function BatchBanner({ batch, completion }: { batch: Batch; completion: BatchCompletedEvent | null }) {
  const tone = !completion ? '' : completion.status === 'completed' && completion.failed === 0 ? 'banner banner-ok' : 'banner banner-warn';
  return (
    <div className={tone} data-testid="banner" role="status">
      {completion && <BannerText c={completion} batch={batch} />}
      {completion && batch.image && (
        <a className="banner-download" href={batch.image.url} download={`finish-line-${batch.id.slice(0, 8)}.png`} data-testid="download">
          Download the picture
          <span className="muted">{` (PNG, ${batch.image.width} × ${batch.image.height})`}</span>
        </a>
      )}
    </div>
  );
}

function BannerText({ c, batch }: { c: BatchCompletedEvent; batch: Batch }) {
  const took = formatSeconds(c.elapsedMs);
  const of = `${formatCount(c.done)} of ${formatCount(c.total)} cells`;
  const failed = c.failed > 0 ? `, ${formatCount(c.failed)} failed` : '';
  switch (c.status) {
    case 'completed':
      return (
        <>
          {c.failed === 0 ? `All ${formatCount(c.total)} cells finished in ${took}` : `${of} finished${failed} in ${took}`}
          <LastAcross c={c} batch={batch} />
        </>
      );
    case 'cancelled':
      return <>{`Cancelled after ${took}: ${of} had finished${failed}.`}</>;
    case 'expired':
      return <>{`Expired after ${took}: no worker took the remaining cells before the deadline. ${of} finished${failed}.`}</>;
  }
}

/** " — last across the finish line: cell (13, 7) by worker w-2", kept from breaking inside "w-2". */
function LastAcross({ c, batch }: { c: BatchCompletedEvent; batch: Batch }): ReactNode {
  const cell = c.lastCell ?? batch.lastCell;
  const worker = c.lastWorker ?? batch.lastWorker;
  if (!cell) return null;
  return (
    <>
      {' — last across the finish line: '}
      <span className="nowrap">{`cell (${cell.row}, ${cell.col})`}</span>
      {worker && ' by '}
      {worker && <span className="nowrap">{`worker ${worker}`}</span>}
    </>
  );
}
