import { parseLeaseRequest } from '@/lib/leases/lease-requests';
import { takeLease } from '@/lib/leases/take-lease';
import { CLIENT_ADDRESS_HEADER, clientKeyOf } from '@/web/http/client-address';
import { otherMethods, strictQuery } from '@/web/http/guards';
import { admitLeaseRequest } from '@/web/http/lease-auth';
import { errorResponse, json, readJsonBody } from '@/web/http/respond';
import { routeContext } from '@/web/http/route-context';

export const dynamic = 'force-dynamic';

const BODY_LIMIT_BYTES = 1024;

/** Leases cells to a worker in any language (CONTRACT.md "Leases"); docs/api.md has examples. */
export async function POST(request: Request) {
  const ctx = routeContext();
  try {
    strictQuery(request);
    const tokenHash = await admitLeaseRequest(request, ctx);
    const input = parseLeaseRequest(await readJsonBody(request, BODY_LIMIT_BYTES));
    // A client that names itself keeps its name across addresses; one that doesn't is known by its address.
    const workerId = `lease-${input.worker ?? clientKeyOf(request).slice(0, 12)}`;
    const host = request.headers.get(CLIENT_ADDRESS_HEADER) ?? 'unknown';
    const lease = await takeLease({ pool: ctx.pool, boss: ctx.boss }, tokenHash, { workerId, host }, input);
    if (lease.cells.length > 0) ctx.log.debug('cells leased', { leaseId: lease.leaseId, workerId, cells: lease.cells.length });
    return json(200, lease);
  } catch (err) {
    return errorResponse(err, ctx.log, { route: 'POST /api/leases' });
  }
}

export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods('POST');
