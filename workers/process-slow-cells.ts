import type pg from 'pg';
import { errorMessage } from '../lib/errors';
import type { FaultPlan } from '../lib/faults';
import { meanColor } from '../lib/pictures/mandelbrot';
import { type CellJobData, parseCellJob } from '../lib/queue/cell-job';
import { paintCell } from './paint-cell';
import type { PaintParams, PaintParamsCache } from './paint-params';
import type { CellJob } from './process-cells';
import type { RenderPool } from './render-pool';
import type { FinishedCell, SlowCellRecorder } from './slow-cell-recorder';

export interface SlowCellDeps {
  pool: pg.Pool;
  render: RenderPool;
  params: PaintParamsCache;
  /** The process's one recorder: every fetch's finished cells go through it. */
  recorder: SlowCellRecorder;
  /** Cells with simulated work worked on at once (tiles all queue for the render threads). */
  slots: number;
  cellTimeoutMs: number;
  faults: FaultPlan | null;
}

/**
 * One fetch of slow cells (picture tiles, colour cells with simulated work): each cell is worked on
 * by itself, under its own time limit (a tile on a render thread, off this event loop, so heartbeats
 * and the fetch's other cells go on), and handed to the process's recorder as soon as it is done, so
 * cells land a few at a time, as they finish. Resolves once every cell of the fetch is recorded;
 * rejects if a recording holding any of them failed (pg-boss then retries the fetch's jobs). A cell
 * whose batch no longer exists is skipped (its job simply completes).
 */
export async function processSlowCells(jobs: CellJob[], deps: SlowCellDeps): Promise<void> {
  const { recorder } = deps;
  const cells = new Map<CellJob, CellJobData>();
  const recorded: Promise<void>[] = [];
  for (const job of jobs) {
    try {
      cells.set(job, parseCellJob(job.data));
    } catch (err) {
      recorded.push(recorder.record({ job, error: errorMessage(err) }));
    }
  }
  const params = await deps.params.get(deps.pool, [...cells.values()].map((c) => c.batchId));
  const finish = async ([job, cell]: [CellJob, CellJobData]) => {
    recorded.push(recorder.record(await workOn(job, cell, params.get(cell.batchId), deps)));
  };

  // Tiles all go to the render pool at once: it queues them for its threads, which never wait for
  // this event loop between two tiles. Simulated work runs `slots` cells at a time.
  const isTile = ([, cell]: [CellJob, CellJobData]) => params.get(cell.batchId)?.kind === 'mandelbrot';
  const tiles = [...cells].filter(isTile);
  const queue = [...cells].filter((entry) => !isTile(entry));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await finish(next);
  };
  await Promise.all([...tiles.map(finish), ...Array.from({ length: Math.max(1, Math.min(deps.slots, queue.length)) }, worker)]);
  // Nothing left to work on: this fetch waits only for its last cells, so record them now.
  recorder.flushNow();
  const outcomes = await Promise.allSettled(recorded);
  const failure = outcomes.find((o) => o.status === 'rejected');
  if (failure) throw failure.reason;
}

async function workOn(job: CellJob, cell: CellJobData, params: PaintParams | undefined, deps: SlowCellDeps): Promise<FinishedCell> {
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
