import { activeCells } from '../db/admission';
import { scheduledCells } from '../db/batches';
import type { Sql } from '../db/sql';
import { PublicError } from '../errors';

// How soon to try again when the server is full: cells drain at thousands a second, so a big batch's
// worth frees up in about this long on a small installation.
const BUSY_RETRY_SECONDS = 30;

/**
 * The global cap (`MAX_ACTIVE_CELLS`): a batch whose cells would take the cells queued and running
 * across all batches past it is refused with `503 busy` and `Retry-After`, and nothing is created. It
 * keeps a few clients, each within its own limits, from filling the queue (and the disk) for everyone.
 * Read without a lock: parallel creations may pass it together by a batch each, which a cap of
 * millions of cells can afford.
 *
 * A scheduled batch counts in full from its creation, not from its start: the cap is checked when
 * someone is there to read a 503, and a batch accepted for later then always starts (a start
 * refused at 3 a.m. would tell no one).
 */
export async function assertCapacity(sql: Sql, cells: number, maxActiveCells: number): Promise<void> {
  const active = (await activeCells(sql)) + (await scheduledCells(sql));
  if (active + cells <= maxActiveCells) return;
  throw new PublicError(
    'busy',
    `The server already has ${active} cells queued, running or scheduled, and takes at most ${maxActiveCells}; try again in ${BUSY_RETRY_SECONDS} s, or start a smaller batch.`,
    { headers: { 'retry-after': String(BUSY_RETRY_SECONDS) } },
  );
}
