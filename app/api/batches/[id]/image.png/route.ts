import { isBatchId } from '@/lib/batches/validate';
import { findBatch } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { routeContext } from '@/web/http/route-context';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { imageResponse } from '@/web/http/image-response';
import { errorResponse } from '@/web/http/respond';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    strictQuery(request);
    const batch = isBatchId(id) ? await findBatch(ctx.pool, id) : null;
    if (!batch) throw new PublicError('not_found', 'No batch has this id.');
    return await imageResponse(ctx.pool, batch, ctx.log);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches/:id/image.png', batchId: id.slice(0, 100) });
  }
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET');
