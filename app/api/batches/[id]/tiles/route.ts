import { isBatchId } from '@/lib/batches/validate';
import { findBatch } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { routeContext } from '@/web/http/route-context';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { errorResponse } from '@/web/http/respond';
import { tilesResponse } from '@/web/http/tiles-response';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    const raw = strictQuery(request, ['afterSeq']).get('afterSeq');
    if (raw !== null && !/^\d{1,15}$/.test(raw))
      throw new PublicError('invalid_input', '"afterSeq" must be a whole number: the last event number the client applied.');
    if (!isBatchId(id) || !(await findBatch(ctx.pool, id))) throw new PublicError('not_found', 'No batch has this id.');
    return tilesResponse(ctx.pool, id, raw === null ? 0 : Number(raw), ctx.log);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches/:id/tiles', batchId: id.slice(0, 100) });
  }
}

export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods('GET');
