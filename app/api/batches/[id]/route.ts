import { isBatchId } from '@/lib/batches/validate';
import { findBatch, findBatchOwner } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { mayCancel } from '@/lib/operator-auth';
import { routeContext } from '@/web/http/route-context';
import { bearerToken, otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse, json } from '@/web/http/respond';
import { isOwnerSession } from '@/web/http/session';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    strictQuery(request);
    const [batch, owner] = isBatchId(id) ? await Promise.all([findBatch(ctx.pool, id), findBatchOwner(ctx.pool, id)]) : [null, null];
    if (!batch) throw new PublicError('not_found', 'No batch has this id.');
    // Extensions: whether this request's session started the batch, and whether it may cancel it
    // (its own session, or an operator: everyone on a local-only server without DASHBOARD_TOKEN).
    const yours = isOwnerSession(request, owner?.ownerSession);
    return json(200, { ...batch, yours, mayCancel: mayCancel(ctx.operators, bearerToken(request), yours) });
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches/:id', batchId: id.slice(0, 100) });
  }
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET');
