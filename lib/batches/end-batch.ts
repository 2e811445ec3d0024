import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { endBatch } from '../db/batches';
import { withTransaction } from '../db/pool';
import { noticeCellsChanged } from '../queue/cell-notices';
import { queueImageJob } from '../queue/image-job';
import { completedEvent } from '../realtime/events';
import { emitInTransaction } from '../realtime/emitter';
import { countBatchEnded } from '../telemetry/metrics';
import { ATTR } from '../telemetry/trace';
import type { Batch } from '../types';
import { inBatchTrace } from './batch-trace';

/**
 * Ends a running batch early, as cancelled or expired: the guarded status change (which waits for
 * any worker recording its cells, then fences out every later one) and its one `batch:completed`
 * commit together with the batch's image stage, in the batch's trace. Null when the batch was not
 * running (or does not exist).
 */
export async function endRunningBatch(
  deps: { pool: pg.Pool; boss: PgBoss },
  batchId: string,
  status: 'cancelled' | 'expired',
): Promise<Batch | null> {
  const { pool, boss } = deps;
  return inBatchTrace(pool, batchId, status === 'cancelled' ? 'batch cancel' : 'batch expire', async (span) => {
    const ended = await withTransaction(pool, async (tx) => {
      const ended = await endBatch(tx, batchId, status);
      if (!ended) return null;
      await emitInTransaction(tx, batchId, 'batch:completed', completedEvent(ended));
      await queueImageJob(boss, tx, batchId);
      // Workers stop fetching its cells the moment this commits, not at their next look.
      await noticeCellsChanged(tx, batchId);
      return ended;
    });
    if (ended) {
      const { elapsedMs } = completedEvent(ended);
      span?.setAttributes({
        [ATTR.status]: ended.status,
        [ATTR.done]: ended.done,
        [ATTR.failed]: ended.failed,
        [ATTR.elapsedMs]: elapsedMs,
      });
      countBatchEnded(status, elapsedMs);
    }
    return ended;
  });
}
