import { countLeaseRequest } from '../../lib/db/leases';
import { PublicError } from '../../lib/errors';
import { tokenHash, tokensMatch } from '../../lib/tokens';
import { bearerToken } from './guards';
import type { RouteContext } from './route-context';

/**
 * Admits a lease API request: the API exists only with WORKER_TOKEN configured (404 otherwise, as
 * for any unknown path), the request must carry that token (401), and the token may make at most
 * `leaseRequestsPerSecond` requests a second across all web servers (429). Returns the token's
 * hash, which leases are filed under: a lease is completed or extended only with the token it was
 * taken with.
 */
export async function admitLeaseRequest(
  request: Request,
  ctx: Pick<RouteContext, 'pool' | 'workerToken' | 'leaseRequestsPerSecond'>,
): Promise<string> {
  if (!ctx.workerToken) throw new PublicError('not_found', 'This server has no lease API: it is served only when WORKER_TOKEN is set.');
  const presented = bearerToken(request);
  if (!presented || !tokensMatch(ctx.workerToken, presented)) {
    throw new PublicError('unauthorized', 'The lease API needs the worker token: send "Authorization: Bearer <WORKER_TOKEN>".');
  }
  const hash = tokenHash(presented);
  const requests = await countLeaseRequest(ctx.pool, hash);
  if (requests > ctx.leaseRequestsPerSecond) {
    throw new PublicError(
      'rate_limited',
      `This worker token made more than ${ctx.leaseRequestsPerSecond} lease requests this second; lease more cells per request, or try again in 1 s.`,
      { headers: { 'retry-after': '1' } },
    );
  }
  return hash;
}
