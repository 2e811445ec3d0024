/**
 * Glossary: one word per thing, here and everywhere in the code and docs.
 * - batch: one click of Start (one `POST /api/batches`). A rows × cols grid of cells, tracked by
 *   one row in `batches`. It is `running` until it ends, exactly once, as `completed` (every cell
 *   finished or failed), `cancelled` or `expired`. One started later is `scheduled` before that:
 *   no jobs yet, until its start job (lib/batches/scheduled-start.ts) makes it `running`.
 * - schedule: a recurring batch: a cron expression in a time zone and a batch body; each tick of it
 *   starts one batch (lib/batches/schedules.ts, on pg-boss's scheduler).
 * - cell: one square of a batch's grid, at (row, col). It waits until a worker records its
 *   outcome, once: a colour, and the cell is finished, or an error, and it has failed.
 * - finished: a cell whose colour is recorded — the contract's "finished cell" (first write wins,
 *   never changes). Finished cells are what `done` counts, what `cells:colored` announces
 *   (`ColoredCell` is the contract's shape for one), what a join's snapshot and `GET …/cells` list,
 *   and what the page draws in colour. It is not called painted, coloured, recorded or done, but
 *   for the contract's own names (`done`, `cells:colored`). Painting is what a canvas does.
 * - failed: a cell whose job exhausted its retries (`cells:failed`, counted in `failed`).
 * - job: the pg-boss job that works out one cell. Exactly one per cell, however often it runs.
 * - enqueued mark: `batches.enqueued`, how many of a batch's cells have their job in the queue.
 *   The fan-out inserts jobs in chunks, each in the transaction that moves the mark, so a fan-out
 *   cut short resumes from the mark and every cell gets exactly one job (lib/batches/fan-out.ts).
 * - worker: a separate OS process (workers/main.ts) that fetches cell jobs, works them out and
 *   records their outcomes. It holds no web server state.
 * - fetch: one bulk take of cell jobs from pg-boss by a worker: up to `WORKER_FETCH_SIZE` jobs
 *   (`TILE_FETCH_SIZE` for tiles) in one call, which the worker then works out and records.
 * - recording: the one transaction in which a worker writes cell outcomes (first write wins),
 *   counts them on the batch row, numbers their events and, for a batch's last cell, ends it.
 *   Cells carry the recording they were written in (`cells.recording`, its transaction id), so a
 *   catch-up can find the cells of each event (lib/db/cells.ts, workers/record-cells.ts).
 * - sequence: a batch's event numbers, `seq` = 1, 2, 3 … without gaps, given under the batch row
 *   lock in commit order: one to each `cells:*` event of a recording, one to the completion.
 *   `batches.seq` is the latest; a client that applied up to N and hears N+2 missed N+1, and joins
 *   again with `afterSeq: N` for exactly what came after (app/client/catch-up.ts).
 * - intake: whether workers take cell jobs at all. An operator pauses and resumes it for every
 *   worker at once on the dashboard (`intake_control`, lib/db/intake.ts; workers/intake.ts follows
 *   it); what a worker holds still finishes, and failed cells are still recorded.
 * - picture: a batch of kind `mandelbrot`, whose every cell is a tile of one image; its cell's
 *   colour is the tile's mean colour, and the tile's pixels are recorded with it.
 * - tile: the tileSize × tileSize pixels of one picture cell, RGB, row-major.
 * - image: the PNG a batch's image stage stitches from its cells once the batch has ended.
 *
 * These are the shapes of the public contract (docs/api.md); the browser imports them too, so
 * this file holds types only.
 */

/** `scheduled` (extension): started with startAt / startInSeconds, waiting for its start; no jobs yet. */
export type BatchStatus = 'scheduled' | 'running' | 'completed' | 'cancelled' | 'expired';
/** The statuses a batch ends in, exactly once. */
export type EndStatus = Exclude<BatchStatus, 'scheduled' | 'running'>;
/** Whether a batch has ended (not scheduled, not running): its completion is due to every viewer. */
export const hasEnded = (status: BatchStatus): status is EndStatus => status !== 'scheduled' && status !== 'running';

export interface CellPosition {
  row: number;
  col: number;
}

export interface ColoredCell extends CellPosition {
  /** `#` and six upper-case hex digits. */
  color: string;
}

/** Extension: a cell whose job exhausted its retries. */
export interface FailedCell extends CellPosition {
  error: string;
}

/**
 * Extension: which worker recorded each cell of a list, compactly: `workers` names each worker once
 * and `cellWorkers[k]` is the index in `workers` of the one that recorded the list's k-th cell. A
 * million cells cost about two bytes each this way, where a name per cell would cost six or more.
 */
export interface CellWorkers {
  workers: string[];
  cellWorkers: number[];
}

/** What a batch's cells are: a random colour each (v1), or the tiles of a Mandelbrot picture. */
export type BatchKind = 'colors' | 'mandelbrot';

/** Centre and width of a picture's region of the complex plane. */
export interface PictureView {
  x: number;
  y: number;
  width: number;
}

/** A batch's image, once its image stage has built it. */
export interface BatchImage {
  url: string;
  width: number;
  height: number;
}

export interface Batch {
  id: string;
  rows: number;
  cols: number;
  total: number;
  done: number;
  failed: number;
  status: BatchStatus;
  createdAt: string;
  finishedAt: string | null;
  /** Extension: when a batch still running ends as expired. */
  deadlineAt: string;
  /** Extension: the cell whose result finished the batch, once completed. */
  lastCell: CellPosition | null;
  /** Extension: the worker that recorded `lastCell`. */
  lastWorker: string | null;
  /** Extension: the number of the batch's latest event (0 before the first). */
  seq: number;
  /** Extension: how many of its cells have their job enqueued; `total` once the fan-out is done. */
  enqueued: number;
  /** Extension: 0..100; queued cells of a higher-priority batch are taken before those of lower ones. */
  priority: number;
  /** Its cells are taken only by workers serving this tag (`WORKER_TAGS`); `default` unless asked. */
  tag: string;
  kind: BatchKind;
  /** Pictures only: the region, the iteration budget and the tile's side in pixels. */
  view?: PictureView;
  maxIterations?: number;
  tileSize?: number;
  /** Extension, colour batches only: simulated work per cell, in milliseconds (0 when not asked). */
  workMs?: number;
  /** null until the batch has ended and its image stage has built the image. */
  image: BatchImage | null;
  /**
   * Extension, batches started later only: when it starts (while `scheduled`), then when it started.
   * Absent on a batch that started when it was created.
   */
  startAt?: string;
  /** Extension: the schedule whose tick created the batch. */
  schedule?: string;
}

export interface BatchInput {
  rows: number;
  cols: number;
  /** Extension: seconds from now until the batch expires; the server's default when absent. */
  deadlineSeconds?: number;
  /** Extension: 0 (the default) to 100; higher goes first. */
  priority?: number;
  /** Which workers take its cells: those serving this tag (`^[a-z0-9][a-z0-9-]{0,31}$`); `default` when absent. */
  tag?: string;
  /** `colors` (the default) or `mandelbrot`. */
  kind?: BatchKind;
  view?: PictureView;
  maxIterations?: number;
  tileSize?: number;
  /** Extension, colour batches only: 0..5000 ms of simulated work per cell. */
  workMs?: number;
  /**
   * Extension: seconds from now until the batch starts (from `startAt` or `startInSeconds`); above
   * 0 the batch waits as `scheduled`. Absent or 0: it starts at once.
   */
  startInSeconds?: number;
  /** Set by a schedule's tick only (never from a request body): the schedule's name. */
  schedule?: string;
}

export interface ErrorBody {
  error: { code: string; message: string };
}
