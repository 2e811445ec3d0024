import type { BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';

/** The completion a batch that had ended before we joined would have announced. */
export function completionFromBatch(batch: Batch): BatchCompletedEvent {
  return {
    batchId: batch.id,
    status: batch.status === 'running' || batch.status === 'scheduled' ? 'completed' : batch.status,
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    elapsedMs: Math.max(0, Date.parse(batch.finishedAt ?? batch.createdAt) - Date.parse(batch.startAt ?? batch.createdAt)),
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
    seq: batch.seq,
  };
}

/** The batch as its completion left it: ended, with the final counts, time and last cell. */
export function withCompletion(batch: Batch, c: BatchCompletedEvent): Batch {
  return {
    ...batch,
    status: c.status,
    done: c.done,
    failed: c.failed,
    finishedAt: batch.finishedAt ?? new Date(Date.parse(batch.startAt ?? batch.createdAt) + c.elapsedMs).toISOString(),
    lastCell: c.lastCell ?? batch.lastCell,
    lastWorker: c.lastWorker ?? batch.lastWorker,
  };
}

/**
 * Whether the page may announce the end: it holds every cell the completion counts. That is so once
 * every event up to the completion's own is applied (the completion overtook no cells, or the
 * catch-up brought them), or when the finished cells are all here anyway; never while a large
 * batch's cells are still on their way over HTTP.
 */
export function endReached(c: BatchCompletedEvent, held: { applied: number; finished: number; loadingCells: boolean }): boolean {
  if (held.loadingCells) return false;
  return held.applied >= c.seq || held.finished >= c.done;
}
