import { isBatchId } from '@/lib/batches/validate';
import { findBatch } from '@/lib/db/batches';
import { PublicError } from '@/lib/errors';
import { routeContext } from '@/lib/http/context';
import { errorResponse, json } from '@/lib/http/respond';

export const dynamic = 'force-dynamic';

export async function GET(_request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    const batch = isBatchId(id) ? await findBatch(ctx.pool, id) : null;
    if (!batch) throw new PublicError('not_found', 'No batch has this id.');
    return json(200, batch);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'GET /api/batches/:id', batchId: id });
  }
}
