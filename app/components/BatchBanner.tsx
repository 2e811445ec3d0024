import type { BatchCompletedEvent } from '@/lib/realtime/events';
import { formatCount, formatSeconds } from './format';

/** The finish line: announced once, when the batch reaches its terminal status. */
export function BatchBanner({ completion }: { completion: BatchCompletedEvent }) {
  return (
    <div className={`banner banner-${completion.status}`} data-testid="banner" role="status">
      {bannerText(completion)}
    </div>
  );
}

export function bannerText(c: BatchCompletedEvent): string {
  const took = formatSeconds(c.elapsedMs);
  const last = c.lastCell ? ` — last across the finish line: cell (${c.lastCell.row}, ${c.lastCell.col}) by worker ${c.lastWorker ?? 'unknown'}` : '';
  switch (c.status) {
    case 'completed':
      return c.failed === 0
        ? `All ${formatCount(c.total)} cells finished in ${took}${last}`
        : `${formatCount(c.done)} of ${formatCount(c.total)} cells finished, ${formatCount(c.failed)} failed, in ${took}${last}`;
    case 'cancelled':
      return `Cancelled after ${took}: ${formatCount(c.done)} of ${formatCount(c.total)} cells had finished.`;
    case 'expired':
      return `Expired after ${took}: ${formatCount(c.done)} of ${formatCount(c.total)} cells finished before the deadline.`;
  }
}
