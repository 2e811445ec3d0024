/**
 * Glossary
 * - batch: one click of Start. A rows × cols grid, tracked by one row in `batches`.
 * - cell: one square of a batch's grid. Finished when it has a colour (first write wins) or
 *   when its job exhausted its retries (counted as failed).
 * - job: the pg-boss job that colours one cell. Exactly one per cell, created with the batch.
 * - worker: a separate OS process that fetches cell jobs in batches and records their colours.
 * - picture: a batch of kind `mandelbrot`, whose every cell is a tile of one image; its cell's
 *   colour is the tile's mean colour, and the tile's pixels are recorded with it.
 * - tile: the tileSize × tileSize pixels of one picture cell, RGB, row-major.
 * - image: the PNG a batch's image stage stitches from its cells once the batch has ended.
 *
 * These are the shapes of the public contract (../shared/CONTRACT.md); the browser imports them too,
 * so this file holds types only.
 */

export type BatchStatus = 'running' | 'completed' | 'cancelled' | 'expired';

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
  kind: BatchKind;
  /** Pictures only: the region, the iteration budget and the tile's side in pixels. */
  view?: PictureView;
  maxIterations?: number;
  tileSize?: number;
  /** Extension, colour batches only: simulated work per cell, in milliseconds (0 when not asked). */
  workMs?: number;
  /** null until the batch has ended and its image stage has built the image. */
  image: BatchImage | null;
}

export interface BatchInput {
  rows: number;
  cols: number;
  /** Extension: seconds from now until the batch expires; the server's default when absent. */
  deadlineSeconds?: number;
  /** Extension: 0 (the default) to 100; higher goes first. */
  priority?: number;
  /** `colors` (the default) or `mandelbrot`. */
  kind?: BatchKind;
  view?: PictureView;
  maxIterations?: number;
  tileSize?: number;
  /** Extension, colour batches only: 0..5000 ms of simulated work per cell. */
  workMs?: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}
