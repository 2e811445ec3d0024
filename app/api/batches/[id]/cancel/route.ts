import { cancelBatch } from '@/lib/batches/cancel-batch';
import { isBatchId } from '@/lib/batches/validate';
import { PublicError } from '@/lib/errors';
import { routeContext } from '@/lib/http/context';
import { errorResponse, json } from '@/lib/http/respond';

export const dynamic = 'force-dynamic';

export async function POST(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    if (!isBatchId(id)) throw new PublicError('not_found', 'No batch has this id.');
    const { batch, jobsCancelled } = await cancelBatch({ pool: ctx.pool, boss: await ctx.boss() }, id);
    ctx.log.info('batch cancelled', { batchId: id, done: batch.done, total: batch.total });
    // Not awaited: the batch is already fenced; leftover jobs would only complete without painting.
    jobsCancelled.catch((err: unknown) => ctx.log.warn('cancelling queued jobs failed; workers will drain them', { batchId: id, err }));
    return json(200, batch);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/batches/:id/cancel', batchId: id });
  }
}
