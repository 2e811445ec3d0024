import { findRunningBatchIds } from '../lib/db/batches';
import type { Sql } from '../lib/db/sql';

/**
 * Which batches are still running, as one worker process knows it: read from the batches table at
 * most every `freshMs` per batch, and an ended batch is remembered for good (an end is final). A
 * worker asks before working on a cell and while a slow fetch is in hand, so the cells of a batch
 * cancelled or expired meanwhile are dropped at once instead of rendered: their jobs complete
 * without work. It is only a saving: recording a cell of an ended batch is refused anyway.
 */
export class RunningBatches {
  private readonly checkedAt = new Map<string, number>();
  private readonly ended = new Set<string>();

  constructor(private readonly freshMs = 250) {}

  /** Of these batches, the ones running (as of at most `freshMs` ago). */
  async running(sql: Sql, ids: Iterable<string>): Promise<Set<string>> {
    const wanted = [...new Set(ids)].filter((id) => !this.ended.has(id));
    const now = Date.now();
    const stale = wanted.filter((id) => now - (this.checkedAt.get(id) ?? 0) >= this.freshMs);
    if (stale.length > 0) {
      const found = await findRunningBatchIds(sql, stale);
      if (this.checkedAt.size >= 10_000) this.checkedAt.clear();
      for (const id of stale) {
        if (found.has(id)) this.checkedAt.set(id, now);
        else this.markEnded(id);
      }
    }
    return new Set(wanted.filter((id) => !this.ended.has(id)));
  }

  private markEnded(id: string): void {
    this.checkedAt.delete(id);
    // Bounded: batches end all the time in a long-lived worker; forgetting an old one costs one read.
    if (this.ended.size >= 10_000) this.ended.clear();
    this.ended.add(id);
  }
}
