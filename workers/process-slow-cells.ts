import type pg from 'pg';
import { withTransaction } from '../lib/db/pool';
import type { Sql } from '../lib/db/sql';
import { errorMessage } from '../lib/errors';
import type { FaultPlan } from '../lib/faults';
import { meanColor } from '../lib/pictures/mandelbrot';
import { type CellJobData, parseCellJob } from '../lib/queue/cell-job';
import { paintCell } from './paint-cell';
import type { PaintParams, PaintParamsCache } from './paint-params';
import type { CellJob } from './process-cells';
import { recordCells, type CellOutcome, type RecordDeps, type RecordResult } from './record-cells';
import type { RenderPool } from './render-pool';

export interface SlowCellDeps extends RecordDeps {
  pool: pg.Pool;
  render: RenderPool;
  params: PaintParamsCache;
  /** Cells with simulated work worked on at once (tiles all queue for the render threads). */
  slots: number;
  cellTimeoutMs: number;
  faults: FaultPlan | null;
  /** Finished cells wait at most this long before they are recorded together. */
  flushMs: number;
  /** Fails one attempt of a job inside a recording transaction (see ProcessDeps.failAttempt). */
  failAttempt(tx: Sql, job: CellJob, message: string): Promise<void>;
  /** Called after each recording commits, with what it recorded and how many cells it settled per batch. */
  onRecorded(result: RecordResult & { failedAttempts: number; firstFailure?: string; settled: Map<string, number> }): void;
}

type Finished = { job: CellJob; outcome: CellOutcome } | { job: CellJob; error: string } | { job: CellJob; skipped: true };

/**
 * One fetch of slow cells (picture tiles, colour cells with simulated work): each cell is worked on
 * by itself, under its own time limit (a tile on a render thread, off this event loop, so heartbeats
 * and the fetch's other cells go on), and finished cells are recorded every `flushMs` in a
 * transaction of their own, so they land a few at a time, as they are done. A recording that fails
 * fails the fetch: pg-boss retries its jobs, and the first-write-wins insert absorbs the cells that
 * were recorded already. A cell whose batch no longer exists is skipped (its job simply completes).
 */
export async function processSlowCells(jobs: CellJob[], deps: SlowCellDeps): Promise<void> {
  const cells = new Map<CellJob, CellJobData>();
  const finished: Finished[] = [];
  for (const job of jobs) {
    try {
      cells.set(job, parseCellJob(job.data));
    } catch (err) {
      finished.push({ job, error: errorMessage(err) });
    }
  }
  const params = await deps.params.get(deps.pool, [...cells.values()].map((c) => c.batchId));
  const recorder = new Recorder(deps, finished);

  // Tiles all go to the render pool at once: it queues them for its threads, which never wait for
  // this event loop between two tiles. Simulated work runs `slots` cells at a time.
  const isTile = ([, cell]: [CellJob, CellJobData]) => params.get(cell.batchId)?.kind === 'mandelbrot';
  const tiles = [...cells].filter(isTile);
  const queue = [...cells].filter((entry) => !isTile(entry));
  const worker = async () => {
    for (let next = queue.shift(); next && !recorder.failed; next = queue.shift()) {
      const [job, cell] = next;
      recorder.add(await workOn(job, cell, params.get(cell.batchId), deps));
    }
  };
  await Promise.all([
    ...tiles.map(async ([job, cell]) => recorder.add(await workOn(job, cell, params.get(cell.batchId), deps))),
    ...Array.from({ length: Math.max(1, Math.min(deps.slots, queue.length)) }, worker),
  ]);
  await recorder.close();
}

async function workOn(job: CellJob, cell: CellJobData, params: PaintParams | undefined, deps: SlowCellDeps): Promise<Finished> {
  if (!params) return { job, skipped: true };
  try {
    if (params.kind === 'mandelbrot') {
      const picture = { view: params.view!, maxIterations: params.maxIterations!, tileSize: params.tileSize!, rows: params.rows, cols: params.cols };
      const tile = await deps.render.render(picture, cell.row, cell.col, { timeoutMs: deps.cellTimeoutMs });
      return { job, outcome: { ...cell, color: meanColor(tile), tile } };
    }
    const signal = AbortSignal.timeout(deps.cellTimeoutMs);
    const color = await Promise.race([
      paintCell(cell, job.retryCount, signal, deps.faults, params.workMs ?? 0),
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error(`cell (${cell.row}, ${cell.col}) of batch ${cell.batchId} took longer than ${deps.cellTimeoutMs} ms and was abandoned`)), { once: true }),
      ),
    ]);
    return { job, outcome: { ...cell, color } };
  } catch (err) {
    return { job, error: errorMessage(err) };
  }
}

/** Records finished cells a few at a time: at most one transaction at once, at most every flushMs. */
class Recorder {
  private waiting: Finished[];
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private failure: unknown;

  constructor(
    private readonly deps: SlowCellDeps,
    initial: Finished[],
  ) {
    this.waiting = initial;
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  add(done: Finished): void {
    this.waiting.push(done);
    if (this.timer) return;
    const due = Math.max(0, this.lastFlush + this.deps.flushMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, due);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    await this.running;
    if (this.failure !== undefined) throw this.failure;
  }

  private flush(): void {
    this.running = this.running.then(async () => {
      if (this.failure !== undefined || this.waiting.length === 0) return;
      const batch = this.waiting;
      this.waiting = [];
      this.lastFlush = Date.now();
      try {
        await this.record(batch);
      } catch (err) {
        this.failure = err;
      }
    });
  }

  private async record(batch: Finished[]): Promise<void> {
    const { deps } = this;
    let failedAttempts = 0;
    let firstFailure: string | undefined;
    const settled = new Map<string, number>();
    for (const done of batch) {
      const batchId = (done.job.data as { batchId?: unknown } | null)?.batchId;
      if (typeof batchId === 'string') settled.set(batchId, (settled.get(batchId) ?? 0) + 1);
    }
    const result = await withTransaction(deps.pool, async (tx) => {
      const outcomes: CellOutcome[] = [];
      for (const done of batch) {
        if ('outcome' in done) outcomes.push(done.outcome);
        else if ('error' in done) {
          firstFailure ??= done.error;
          failedAttempts++;
          await deps.failAttempt(tx, done.job, done.error);
        }
      }
      return recordCells(tx, outcomes, deps);
    });
    deps.onRecorded({ ...result, failedAttempts, firstFailure, settled });
  }
}
