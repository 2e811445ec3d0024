import type pg from 'pg';
import { endBatch } from '../db/batches';
import { withTransaction } from '../db/pool';
import { completedEvent } from '../realtime/events';
import { emitInTransaction } from '../realtime/emitter';
import { countBatchEnded } from '../telemetry/metrics';
import { ATTR } from '../telemetry/trace';
import type { Batch } from '../types';
import { inBatchTrace } from './batch-trace';

/**
 * Ends a running batch early, as cancelled or expired: the guarded status change (which waits for
 * any worker recording its cells, then fences out every later one) and its one `batch:completed`
 * commit together, in the batch's trace. Null when the batch was not running (or does not exist).
 */
export async function endRunningBatch(pool: pg.Pool, batchId: string, status: 'cancelled' | 'expired'): Promise<Batch | null> {
  return inBatchTrace(pool, batchId, status === 'cancelled' ? 'batch cancel' : 'batch expire', async (span) => {
    const ended = await withTransaction(pool, async (tx) => {
      const ended = await endBatch(tx, batchId, status);
      if (ended) await emitInTransaction(tx, batchId, 'batch:completed', completedEvent(ended));
      return ended;
    });
    if (ended) {
      const { elapsedMs } = completedEvent(ended);
      span?.setAttributes({ [ATTR.status]: ended.status, [ATTR.done]: ended.done, [ATTR.failed]: ended.failed, [ATTR.elapsedMs]: elapsedMs });
      countBatchEnded(status, elapsedMs);
    }
    return ended;
  });
}
