import type { Sql } from '../db/sql';

/**
 * A notice that what workers fetch has changed: a batch's queue has new jobs, or a batch has ended
 * (early: cancelled or expired). Sent in the transaction that makes the change (so it arrives once
 * the change can be seen), heard by every worker, which then reads the running batches again at
 * once: it fetches new cells without waiting for its next poll, and stops fetching an ended batch's
 * without waiting for its list of running batches to go stale. Only a hint: workers poll anyway.
 */
export const CELL_NOTICE_CHANNEL = 'finish_line_cells';

/** Sends the notice for `batchId` when the caller's transaction commits. */
export async function noticeCellsChanged(tx: Sql, batchId: string): Promise<void> {
  await tx.query('select pg_notify($1, $2)', [CELL_NOTICE_CHANNEL, batchId]);
}
