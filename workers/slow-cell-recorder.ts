import type pg from 'pg';
import { withTransaction } from '../lib/db/pool';
import type { Sql } from '../lib/db/sql';
import type { FailAttemptsResult, FailedAttempt } from '../lib/batches/fail-attempts';
import type { CellJob } from './process-cells';
import { recordCells, type CellOutcome, type RecordDeps, type RecordResult } from '../lib/batches/record-cells';

/** How one slow cell ended: with an outcome to record, a failed attempt, or nothing to do. */
export type FinishedCell = { job: CellJob; outcome: CellOutcome } | { job: CellJob; error: string } | { job: CellJob; skipped: true };

export interface RecorderDeps extends RecordDeps {
  pool: pg.Pool;
  /** Outcomes wait at most this long before they are recorded together. */
  flushMs: number;
  /** Fails attempts whose own work failed, inside a recording transaction (see ProcessDeps.failAttempts). */
  failAttempts(tx: Sql, attempts: FailedAttempt[]): Promise<FailAttemptsResult>;
  /** Called after each recording commits, with what it recorded and how many cells it settled per batch. */
  onRecorded(result: RecordResult & { failedAttempts: number; firstFailure?: string; settled: Map<string, number> }): void;
}

interface Waiting {
  done: FinishedCell;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Records a worker process's finished slow cells, whichever fetch they came from: at most one
 * recording transaction at a time (so the process never queues against itself for a batch's row
 * lock), at most every `flushMs` unless a fetch is waiting only for its last cells. Each cell's
 * promise settles when the transaction holding it commits, or fails with it; a failed recording
 * fails every fetch that had cells in it, and pg-boss retries their jobs (the first-write-wins
 * insert absorbs the cells recorded before).
 */
export class SlowCellRecorder {
  private waiting: Waiting[] = [];
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;

  constructor(private readonly deps: RecorderDeps) {}

  /** Queues a cell's outcome; resolves once it is recorded (a skipped cell settles at once). */
  record(done: FinishedCell): Promise<void> {
    if ('skipped' in done) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ done, resolve, reject });
      this.schedule();
    });
  }

  /** Records what waits now rather than at the next tick: a fetch has nothing else to wait for. */
  flushNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** Records what waits and resolves when every recording so far has ended. */
  async close(): Promise<void> {
    this.flushNow();
    await this.running;
  }

  private schedule(): void {
    if (this.timer) return;
    const due = Math.max(0, this.lastFlush + this.deps.flushMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, due);
  }

  private flush(): void {
    this.running = this.running.then(async () => {
      if (this.waiting.length === 0) return;
      const batch = this.waiting;
      this.waiting = [];
      this.lastFlush = Date.now();
      try {
        await this.recordAll(batch.map((w) => w.done));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    });
  }

  private async recordAll(cells: FinishedCell[]): Promise<void> {
    const { deps } = this;
    let failedAttempts = 0;
    let firstFailure: string | undefined;
    const settled = new Map<string, number>();
    for (const done of cells) {
      const batchId = (done.job.data as { batchId?: unknown } | null)?.batchId;
      if (typeof batchId === 'string') settled.set(batchId, (settled.get(batchId) ?? 0) + 1);
    }
    const result = await withTransaction(deps.pool, async (tx) => {
      const outcomes: CellOutcome[] = [];
      const failed: FailedAttempt[] = [];
      for (const done of cells) {
        if ('outcome' in done) outcomes.push(done.outcome);
        else if ('error' in done) {
          firstFailure ??= done.error;
          failed.push({ job: done.job, message: done.error });
        }
      }
      failedAttempts = failed.length;
      await deps.failAttempts(tx, failed);
      return recordCells(tx, outcomes, deps);
    });
    deps.onRecorded({ ...result, failedAttempts, firstFailure, settled });
  }
}
