import type pg from 'pg';
import { extendLease, lockLease } from '../db/leases';
import { withTransaction } from '../db/pool';
import { PublicError } from '../errors';

/**
 * Extends an open lease to `leaseSeconds` from now (never past the expiry pg-boss keeps for its
 * jobs: the answer says how far it went). An expired lease is not revived: 409 `lease_expired`.
 */
export async function extendOpenLease(
  pool: pg.Pool,
  tokenHash: string,
  leaseId: string,
  leaseSeconds: number,
): Promise<{ leaseId: string; expiresAt: string }> {
  return withTransaction(pool, async (tx) => {
    const lease = await lockLease(tx, leaseId, tokenHash);
    if (!lease) throw new PublicError('not_found', 'No lease has this id for this worker token.');
    const expiresAt = lease.open ? await extendLease(tx, leaseId, leaseSeconds) : null;
    if (!expiresAt)
      throw new PublicError('lease_expired', 'This lease has expired and its cells went back to the queue; lease them again.');
    return { leaseId, expiresAt: expiresAt.toISOString() };
  });
}
