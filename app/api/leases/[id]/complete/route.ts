import { completeLease } from '@/lib/leases/complete-lease';
import { isLeaseId, parseCompleteRequest } from '@/lib/leases/lease-requests';
import { PublicError } from '@/lib/errors';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { admitLeaseRequest } from '@/web/http/lease-auth';
import { errorResponse, json, readJsonBody } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

/** 1,000 results, each at most a 64 × 64 tile in base64 (lease-requests.ts). */
const BODY_LIMIT_BYTES = 1000 * 66 * 1024;

export async function POST(request: Request, { params }: { params: Promise<{ id: string }> }) {
  const ctx = routeContext();
  const { id } = await params;
  try {
    strictQuery(request);
    const tokenHash = await admitLeaseRequest(request, ctx);
    const { results } = parseCompleteRequest(await readJsonBody(request, BODY_LIMIT_BYTES));
    if (!isLeaseId(id)) throw new PublicError('not_found', 'No lease has this id for this worker token.');
    const answer = await completeLease(
      { pool: ctx.pool, boss: ctx.boss, retryLimit: ctx.cellRetryLimit },
      tokenHash,
      id.toLowerCase(),
      results,
    );
    return json(200, answer);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/leases/:id/complete', leaseId: id.slice(0, 100) });
  }
}

export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods('POST');
