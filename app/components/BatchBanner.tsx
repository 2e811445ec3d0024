import type { BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import { formatCount, formatSeconds } from '../client/format';

/**
 * The finish line. The status region is always in the page, empty until the end, because screen
 * readers announce changes to a live region, not regions that appear already filled.
 */
export function BatchBanner({ batch, completion }: { batch: Batch; completion: BatchCompletedEvent | null }) {
  const tone = !completion ? '' : completion.status === 'completed' && completion.failed === 0 ? 'banner banner-ok' : 'banner banner-warn';
  return (
    <div className={tone} data-testid="banner" role="status">
      {completion && bannerText(completion, batch)}
    </div>
  );
}

export function bannerText(c: BatchCompletedEvent, batch: Batch): string {
  const took = formatSeconds(c.elapsedMs);
  const cell = c.lastCell ?? batch.lastCell;
  const worker = c.lastWorker ?? batch.lastWorker;
  const last = cell ? ` — last across the finish line: cell (${cell.row}, ${cell.col})${worker ? ` by worker ${worker}` : ''}` : '';
  const failed = c.failed > 0 ? `, ${formatCount(c.failed)} failed` : '';
  switch (c.status) {
    case 'completed':
      return c.failed === 0
        ? `All ${formatCount(c.total)} cells finished in ${took}${last}`
        : `${formatCount(c.done)} of ${formatCount(c.total)} cells finished, ${formatCount(c.failed)} failed in ${took}${last}`;
    case 'cancelled':
      return `Cancelled after ${took}: ${formatCount(c.done)} of ${formatCount(c.total)} cells had finished${failed}.`;
    case 'expired':
      return `Expired after ${took}: no worker took the remaining cells before the deadline. ${formatCount(c.done)} of ${formatCount(c.total)} cells finished${failed}.`;
  }
}
