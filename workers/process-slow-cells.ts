import type pg from 'pg';
import { errorMessage } from '../lib/errors';
import type { FaultPlan } from '../lib/faults';
import { meanColor } from '../lib/pictures/mandelbrot';
import { type CellJobData, parseCellJob } from '../lib/queue/cell-job';
import { paintCell } from './paint-cell';
import type { PaintParams, PaintParamsCache } from './paint-params';
import type { CellJob } from './process-cells';
import type { RenderPool } from './render-pool';
import type { RunningBatches } from './running-batches';
import type { FinishedCell, SlowCellRecorder } from './slow-cell-recorder';

export interface SlowCellDeps {
  pool: pg.Pool;
  render: RenderPool;
  params: PaintParamsCache;
  /** The process's one recorder: every fetch's outcomes go through it. */
  recorder: SlowCellRecorder;
  /** Which batches still run: cells of one that ended are dropped, queued or mid-render. */
  running: RunningBatches;
  /** Cells with simulated work worked on at once (tiles all queue for the render threads). */
  slots: number;
  cellTimeoutMs: number;
  faults: FaultPlan | null;
}

/** How often a fetch in hand checks that its batches still run. */
const ENDED_CHECK_MS = 250;

/**
 * One fetch of slow cells (picture tiles, colour cells with simulated work): each cell is worked on
 * by itself, under its own time limit (a tile on a render thread, off this event loop, so heartbeats
 * and the fetch's other cells go on), and handed to the process's recorder as soon as it is done, so
 * cells land a few at a time, as they finish. Resolves once every cell of the fetch is recorded;
 * rejects if a recording holding any of them failed (pg-boss then retries the fetch's jobs). A cell
 * whose batch no longer runs (or no longer exists) is skipped, and so is one whose batch ends while
 * the fetch is in hand: its tile leaves the render queue (or its thread) at once. A skipped cell's
 * job simply completes.
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
  const batchIds = [...new Set([...cells.values()].map((c) => c.batchId))];
  const params = await deps.params.get(deps.pool, batchIds);
  const watch = new EndedBatches(deps, batchIds);
  await watch.check();
  const finish = async ([job, cell]: [CellJob, CellJobData]) => {
    recorded.push(recorder.record(await workOn(job, cell, params.get(cell.batchId), watch.signal(cell.batchId), deps)));
  };

  // Tiles all go to the render pool at once: it queues them for its threads, which never wait for
  // this event loop between two tiles. Simulated work runs `slots` cells at a time.
  const isTile = ([, cell]: [CellJob, CellJobData]) => params.get(cell.batchId)?.kind === 'mandelbrot';
  const tiles = [...cells].filter(isTile);
  const queue = [...cells].filter((entry) => !isTile(entry));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await finish(next);
  };
  const watching = setInterval(() => void watch.check().catch(() => undefined), ENDED_CHECK_MS);
  try {
    await Promise.all([...tiles.map(finish), ...Array.from({ length: Math.max(1, Math.min(deps.slots, queue.length)) }, worker)]);
  } finally {
    clearInterval(watching);
  }
  // Nothing left to work on: this fetch waits only for its last cells, so record them now.
  recorder.flushNow();
  const outcomes = await Promise.allSettled(recorded);
  const failure = outcomes.find((o) => o.status === 'rejected');
  if (failure) throw failure.reason;
}

/** The batches of one fetch, each with a signal that fires when the batch is found to have ended. */
class EndedBatches {
  private readonly controllers = new Map<string, AbortController>();

  constructor(
    private readonly deps: Pick<SlowCellDeps, 'pool' | 'running'>,
    batchIds: string[],
  ) {
    for (const id of batchIds) this.controllers.set(id, new AbortController());
  }

  async check(): Promise<void> {
    const live = [...this.controllers].filter(([, c]) => !c.signal.aborted).map(([id]) => id);
    if (live.length === 0) return;
    const running = await this.deps.running.running(this.deps.pool, live);
    for (const id of live) if (!running.has(id)) this.controllers.get(id)!.abort(new BatchEndedError(id));
  }

  signal(batchId: string): AbortSignal {
    return this.controllers.get(batchId)!.signal;
  }
}

class BatchEndedError extends Error {
  override name = 'BatchEndedError';
  constructor(readonly batchId: string) {
    super(`batch ${batchId} has ended; its cells are no longer worked on`);
  }
}

async function workOn(
  job: CellJob,
  cell: CellJobData,
  params: PaintParams | undefined,
  ended: AbortSignal,
  deps: SlowCellDeps,
): Promise<FinishedCell> {
  if (!params || ended.aborted) return { job, skipped: true };
  try {
    if (params.kind === 'mandelbrot') {
      const picture = {
        view: params.view!,
        maxIterations: params.maxIterations!,
        tileSize: params.tileSize!,
        rows: params.rows,
        cols: params.cols,
      };
      const tile = await deps.render.render(picture, cell.row, cell.col, { timeoutMs: deps.cellTimeoutMs, signal: ended });
      return { job, outcome: { ...cell, color: meanColor(tile), tile } };
    }
    const timeout = AbortSignal.timeout(deps.cellTimeoutMs);
    const signal = AbortSignal.any([timeout, ended]);
    const color = await Promise.race([
      paintCell(cell, job.retryCount, signal, deps.faults, params.workMs ?? 0),
      new Promise<never>((_, reject) =>
        signal.addEventListener(
          'abort',
          () =>
            reject(
              timeout.aborted
                ? new Error(
                    `cell (${cell.row}, ${cell.col}) of batch ${cell.batchId} took longer than ${deps.cellTimeoutMs} ms and was abandoned`,
                  )
                : signal.reason,
            ),
          { once: true },
        ),
      ),
    ]);
    return { job, outcome: { ...cell, color } };
  } catch (err) {
    // Its batch ended under it: not a failure of the cell's work, so nothing to retry or count.
    if (ended.aborted) return { job, skipped: true };
    return { job, error: errorMessage(err) };
  }
}
