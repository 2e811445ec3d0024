import type pg from 'pg';
import { setWorkerHolding } from '../lib/db/workers';
import { errorMessage } from '../lib/errors';
import { every } from '../lib/lifecycle';
import type { Logger } from '../lib/log';

/**
 * The cells this worker holds right now, by batch: fetched and not yet recorded. Written to its
 * `workers` row at most once a second, and only when it changed, for the batch page's panel.
 */
export class Holding {
  private readonly cells = new Map<string, number>();
  private changed = false;

  add(batchId: string, n: number): void {
    this.cells.set(batchId, (this.cells.get(batchId) ?? 0) + n);
    this.changed = true;
  }

  remove(batchId: string, n: number): void {
    const left = (this.cells.get(batchId) ?? 0) - n;
    if (left > 0) this.cells.set(batchId, left);
    else this.cells.delete(batchId);
    this.changed = true;
  }

  /** Counts a fetch's jobs by batch (malformed payloads count for nothing). */
  static countByBatch(jobs: { data: unknown }[]): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of jobs) {
      const batchId = (job.data as { batchId?: unknown } | null)?.batchId;
      if (typeof batchId === 'string') counts.set(batchId, (counts.get(batchId) ?? 0) + 1);
    }
    return counts;
  }

  /** Writes what changed every `intervalMs` until the returned stop, which writes "nothing held". */
  startWriter(pool: pg.Pool, workerId: string, log: Logger, intervalMs = 1000): () => Promise<void> {
    const stop = every(intervalMs, async () => {
      if (!this.changed) return;
      this.changed = false;
      try {
        await setWorkerHolding(pool, workerId, Object.fromEntries(this.cells));
      } catch (err) {
        this.changed = true;
        log.debug('writing held cells failed', { err: errorMessage(err) });
      }
    });
    return async () => {
      await stop();
      await setWorkerHolding(pool, workerId, {}).catch(() => undefined);
    };
  }
}
