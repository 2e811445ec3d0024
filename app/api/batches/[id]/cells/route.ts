import { isBatchId } from '@/lib/batches/validate';
import { findBatch } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { cellsResponse } from '@/web/http/cells-response';
import { routeContext } from '@/web/http/route-context';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse } from '@/web/http/respond';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    strictQuery(request);
    if (!isBatchId(id) || !(await findBatch(ctx.pool, id))) throw new PublicError('not_found', 'No batch has this id.');
    return cellsResponse(ctx.pool, id, ctx.log);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches/:id/cells', batchId: id.slice(0, 100) });
  }
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET');
