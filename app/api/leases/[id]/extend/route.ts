import { extendOpenLease } from '@/lib/leases/extend-lease';
import { isLeaseId, parseExtendRequest } from '@/lib/leases/lease-requests';
import { PublicError } from '@/lib/errors';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { admitLeaseRequest } from '@/web/http/lease-auth';
import { errorResponse, json, readJsonBody } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

const BODY_LIMIT_BYTES = 256;

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    strictQuery(request);
    const tokenHash = await admitLeaseRequest(request, ctx);
    const { leaseSeconds } = parseExtendRequest(await readJsonBody(request, BODY_LIMIT_BYTES));
    if (!isLeaseId(id)) throw new PublicError('not_found', 'No lease has this id for this worker token.');
    return json(200, await extendOpenLease(ctx.pool, tokenHash, id.toLowerCase(), leaseSeconds));
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/leases/:id/extend', leaseId: id.slice(0, 100) });
  }
}

export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods('POST');
