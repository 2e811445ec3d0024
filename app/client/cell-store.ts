import type { CellWorkers, ColoredCell, FailedCell } from '@/lib/types';
import { DirtyList } from './dirty-list';
import { UNKNOWN_WORKER, WorkerTally } from './worker-tally';

/** A cell with no outcome yet. */
export const WAITING = -1;
export const FAILED = -2;

/**
 * A batch's cells outside React: one slot per cell holding its colour as 0xRRGGBB once it is
 * finished, or WAITING, or FAILED. Events write here and the canvas reads it once per animation
 * frame, so a million cells never become a million renders. Writing a cell twice (a replayed event,
 * a snapshot after a reconnect) changes nothing and counts once. Beside the colours, `workers`
 * notes which worker recorded each cell.
 */
export class CellStore {
  readonly colors: Int32Array;
  readonly workers: WorkerTally;
  readonly errors = new Map<number, string>();
  private readonly dirty: DirtyList;
  finished = 0;
  failed = 0;
  /** Indices written since the canvas last drew; null means "redraw everything". */

  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {
    this.colors = new Int32Array(rows * cols).fill(WAITING);
    this.workers = new WorkerTally(rows * cols);
    this.dirty = new DirtyList(rows * cols, 8, true);
  }

  /**
   * Finished cells in: `by` names who recorded them, one worker for all (a `cells:colored` event),
   * or one per cell (a snapshot's CellWorkers). A cell already finished but not yet attributed takes
   * its worker now.
   */
  applyFinished(cells: readonly ColoredCell[], by?: string | Partial<CellWorkers>): void {
    const { workers } = this;
    const single = typeof by === 'string' ? workers.slot(by) : UNKNOWN_WORKER;
    const listed = typeof by === 'object' && by !== null ? workers.slotsOf(by, cells.length) : null;
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[k];
      const i = this.index(cell);
      if (i < 0) continue;
      const slot = listed ? (listed.slots[listed.cellWorkers[k]] ?? UNKNOWN_WORKER) : single;
      if (this.colors[i] !== WAITING) {
        if (this.colors[i] !== FAILED && workers.assign(i, slot)) this.dirty.mark(i);
        continue;
      }
      const rgb = Number.parseInt(cell.color.slice(1), 16);
      if (Number.isNaN(rgb)) continue;
      this.colors[i] = rgb;
      this.finished++;
      workers.assign(i, slot);
      this.dirty.mark(i);
    }
  }

  applyFailed(cells: readonly FailedCell[]): void {
    for (const cell of cells) {
      const i = this.index(cell);
      if (i < 0 || this.colors[i] !== WAITING) continue;
      this.colors[i] = FAILED;
      this.errors.set(i, cell.error);
      this.failed++;
      this.dirty.mark(i);
    }
  }

  /** What changed since the canvas last drew: a list of indices, null for all, or 'none'. */
  takeDirty(): number[] | null | 'none' {
    return this.dirty.take();
  }

  /** The next frame redraws everything (a new canvas size, say). */
  invalidate(): void {
    this.dirty.invalidate();
  }

  private index({ row, col }: { row: number; col: number }): number {
    if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= this.rows || col >= this.cols) return -1;
    return row * this.cols + col;
  }
}
