import { listRunningBatches, type RunningBatchRef } from '../lib/db/batches';
import type { Sql } from '../lib/db/sql';

/** More running batches than this at once is far past any limit the API allows; the rest wait their turn. */
const LIST_LIMIT = 1000;

/**
 * The running batches in the order a worker takes their cells (highest priority first, then
 * oldest), as one worker process knows it: read from the batches table at most every `freshMs`, or
 * at once after `stale()` (a notice of new cells). A batch that ends leaves the list within
 * `freshMs`, and from then on no fetch of this process touches its queue: that is what makes a
 * cancel take effect at once whatever the batch's size. One read serves every fetch loop.
 */
export class RunningBatchOrder {
  private batches: RunningBatchRef[] = [];
  /** When the last read started (what it saw is at least that fresh). */
  private readAt = 0;
  private staleAt = 0;
  private reading: { startedAt: number; done: Promise<RunningBatchRef[]> } | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly freshMs = 250,
  ) {}

  /** The running batches, by priority, as of at most `freshMs` ago. */
  async current(): Promise<RunningBatchRef[]> {
    const now = Date.now();
    if (this.readAt > this.staleAt && now - this.readAt < this.freshMs) return this.batches;
    // A read that started before the list went stale may have missed what made it so.
    if (this.reading && this.reading.startedAt > this.staleAt) return this.reading.done;
    const startedAt = now;
    const done = (this.reading?.done.catch(() => undefined) ?? Promise.resolve())
      .then(() => listRunningBatches(this.sql, LIST_LIMIT))
      .then((batches) => {
        this.batches = batches;
        this.readAt = Math.max(this.readAt, startedAt);
        return batches;
      })
      .finally(() => {
        if (this.reading?.done === done) this.reading = null;
      });
    this.reading = { startedAt, done };
    return done;
  }

  /** The next `current()` reads the table again (something changed: a batch has new cells). */
  stale(): void {
    this.staleAt = Date.now();
  }

  /** Whether the last read had this batch running. */
  has(batchId: string): boolean {
    return this.batches.some((b) => b.id === batchId);
  }
}
