import { cancelBatch } from '@/lib/batches/cancel-batch';
import { isBatchId } from '@/lib/batches/validate';
import { findBatchOwner } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { mayCancel } from '@/lib/operator-auth';
import { assertOrigin, bearerToken, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse, json } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';
import { isOwnerSession } from '@/web/http/session';

export const dynamic = 'force-dynamic';

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    assertOrigin(request, ctx.allowedOrigins);
    strictQuery(request);
    const owner = isBatchId(id) ? await findBatchOwner(ctx.pool, id) : null;
    if (!owner) throw new PublicError('not_found', 'No batch has this id.');
    // The same rule as the dashboard's cancel (operator-auth.ts): the batch's own session, or an operator.
    const ownsBatch = isOwnerSession(request, owner.ownerSession);
    if (!mayCancel(ctx.operators, bearerToken(request), ownsBatch)) {
      throw new PublicError(
        'forbidden',
        'Only the browser session that started this batch (or an operator, with DASHBOARD_TOKEN) can cancel it.',
      );
    }
    const { batch, jobsCancelled } = await cancelBatch({ pool: ctx.pool, boss: ctx.boss }, id);
    ctx.log.info('batch cancelled', { batchId: id, done: batch.done, total: batch.total, by: ownsBatch ? 'owner' : 'operator' });
    // Not awaited: the batch is already fenced; leftover jobs would only complete without painting.
    jobsCancelled.catch((err: unknown) => ctx.log.warn('cancelling queued jobs failed; workers will drain them', { batchId: id, err }));
    return json(200, batch);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/batches/:id/cancel', batchId: id.slice(0, 100) });
  }
}

export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods('POST');
