import type { PgBoss } from 'pg-boss';
import type { RunningBatchRef } from '../lib/db/batches';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import { batchOfCellQueue, cellQueueOf } from '../lib/queue/cell-job';
import { isQueueGone } from '../lib/queue/queue-gone';
import type { RunningBatchOrder } from './batch-order';
import type { CellJob } from './process-cells';

export interface CellFetchDeps {
  boss: PgBoss;
  order: RunningBatchOrder;
  /** Which running batches these loops take cells of (fast or slow cells). */
  serves(batch: RunningBatchRef): boolean;
  /** Fetch loops working at once (WORKER_LOOPS), each with one fetch in hand at most. */
  loops: number;
  /** Jobs per fetch, at most. */
  batchSize: number;
  /** How long a loop that found no job anywhere waits before it looks again (a notice wakes it sooner). */
  idleMs: number;
  /**
   * Fetched from when no running batch's queue had a job: the shared queue a version before queues
   * per batch put every cell job on (`cell`, `cell-slow`), so batches running across the upgrade
   * still finish. Empty otherwise, and one indexed look per idle poll.
   */
  legacyQueue?: string;
  /** Works a fetch; resolving completes its jobs, throwing fails them (to be retried). */
  handle(queue: string, jobs: CellJob[]): Promise<void>;
  log: Logger;
}

/** How long a loop whose look-ups failed (the database is away) waits before trying again. */
const FAILED_WAIT_MS = 1000;

/**
 * Fetch loops over the running batches' queues, what `boss.work()` on one shared queue used to be:
 * each loop takes up to `batchSize` jobs from the queue of the first batch, in the running batches'
 * order (priority, then age), that has any, works them, completes them (or fails them, if the work
 * threw), and fetches again at once; when no batch had a job it waits `idleMs` or until `wake()`.
 * A batch that ends drops out of the order within a quarter of a second, and its queue with it: its
 * leftover jobs are never read again, whatever their number.
 *
 * While a fetch is in hand its jobs' heartbeats are kept (pg-boss gives their claim away to another
 * worker when they stop), as `work()` did. `stop()` fetches nothing more and resolves once what is
 * in hand is settled.
 */
export class CellFetchLoops {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly waiting = new Set<() => void>();

  constructor(private readonly deps: CellFetchDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.deps.loops }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Wakes the loops waiting for work (new cells were queued). */
  wake(): void {
    for (const resolve of [...this.waiting]) resolve();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let fetched = 0;
      let failed = false;
      try {
        fetched = await this.fetchAndWork();
      } catch (err) {
        failed = true;
        this.deps.log.warn('fetching cell jobs failed; trying again', { err: errorMessage(err) });
      }
      if (fetched === 0 && this.running) await this.idle(failed ? FAILED_WAIT_MS : this.deps.idleMs);
    }
  }

  /** One fetch from the first running batch with jobs, worked and settled; how many jobs it had. */
  private async fetchAndWork(): Promise<number> {
    for (const batch of await this.deps.order.current()) {
      if (!this.running) return 0;
      if (!this.deps.serves(batch)) continue;
      const queue = cellQueueOf(batch.id);
      const jobs = await this.fetch(queue);
      if (jobs.length === 0) continue;
      await this.work(queue, jobs);
      return jobs.length;
    }
    const legacy = this.deps.legacyQueue;
    if (!legacy || !this.running) return 0;
    const jobs = await this.fetch(legacy);
    if (jobs.length > 0) await this.work(legacy, jobs);
    return jobs.length;
  }

  private async fetch(queue: string): Promise<CellJob[]> {
    try {
      return (await this.deps.boss.fetch(queue, { batchSize: this.deps.batchSize })) as CellJob[];
    } catch (err) {
      // Its batch ended and its queue went before this process's list of running batches saw it.
      if (isQueueGone(err)) return [];
      throw err;
    }
  }

  private async work(queue: string, jobs: CellJob[]): Promise<void> {
    const { boss, log } = this.deps;
    const heartbeatSeconds = Math.min(...jobs.map((j) => j.heartbeatSeconds || Infinity));
    const heartbeat = Number.isFinite(heartbeatSeconds)
      ? setInterval(
          () =>
            void boss.touch(queue, jobs).catch((err: unknown) => {
              if (!isQueueGone(err)) log.debug('heartbeat of held cell jobs failed', { queue, err: errorMessage(err) });
            }),
          (heartbeatSeconds * 1000) / 2,
        )
      : undefined;
    let failure: unknown;
    try {
      await this.deps.handle(queue, jobs);
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(heartbeat);
    }
    // A batch that ended while its jobs were in hand has its queue deleted with every job in it:
    // settling them would only hold this loop (and the drop, which waits for their rows) back.
    if (await this.hasEnded(queue)) return;
    try {
      // Fenced to the attempts fetched: a claim that lapsed meanwhile is left to its new holder.
      if (failure === undefined) await boss.complete(queue, jobs);
      else await boss.fail(queue, jobs, failure instanceof Error ? { message: failure.message } : { message: String(failure) });
    } catch (err) {
      // The jobs go back to the queue when their claim lapses, and are worked again (a recorded cell
      // is absorbed by first-write-wins); a queue gone means their batch has ended.
      if (!isQueueGone(err))
        log.warn('settling cell jobs failed; they will run again', { queue, jobs: jobs.length, err: errorMessage(err) });
    }
  }

  private async hasEnded(queue: string): Promise<boolean> {
    const batchId = batchOfCellQueue(queue);
    if (!batchId) return false;
    try {
      return !(await this.deps.order.current()).some((b) => b.id === batchId);
    } catch {
      return false;
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }
}
