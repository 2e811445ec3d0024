import type { ColoredCell, FailedCell } from '@/lib/types';

export const UNPAINTED = -1;
export const FAILED = -2;

/**
 * A batch's cells outside React: one slot per cell holding its colour as 0xRRGGBB, or UNPAINTED, or
 * FAILED. Events write here and the canvas reads it once per animation frame, so a million cells
 * never become a million renders. Writing a cell twice (a replayed event, a snapshot after a
 * reconnect) changes nothing and counts once.
 */
export class CellStore {
  readonly colors: Int32Array;
  readonly errors = new Map<number, string>();
  painted = 0;
  failed = 0;
  /** Indices written since the canvas last drew; null means "redraw everything". */
  private dirty: number[] | null = null;

  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {
    this.colors = new Int32Array(rows * cols).fill(UNPAINTED);
  }

  applyColored(cells: readonly ColoredCell[]): void {
    for (const cell of cells) {
      const i = this.index(cell);
      if (i < 0 || this.colors[i] !== UNPAINTED) continue;
      const rgb = Number.parseInt(cell.color.slice(1), 16);
      if (Number.isNaN(rgb)) continue;
      this.colors[i] = rgb;
      this.painted++;
      this.markDirty(i);
    }
  }

  applyFailed(cells: readonly FailedCell[]): void {
    for (const cell of cells) {
      const i = this.index(cell);
      if (i < 0 || this.colors[i] !== UNPAINTED) continue;
      this.colors[i] = FAILED;
      this.errors.set(i, cell.error);
      this.failed++;
      this.markDirty(i);
    }
  }

  /** Hands the canvas what changed since its last frame: a list of indices, null for all, or 'none'. */
  takeDirty(): number[] | null | 'none' {
    const dirty = this.dirty;
    if (dirty && dirty.length === 0) return 'none';
    this.dirty = [];
    return dirty;
  }

  /** The next frame redraws everything (a new canvas size, say). */
  invalidate(): void {
    this.dirty = null;
  }

  private markDirty(i: number): void {
    if (!this.dirty) return;
    // A hidden tab gets no animation frames; past this size one full redraw is cheaper than the list.
    if (this.dirty.length > this.colors.length / 8) this.dirty = null;
    else this.dirty.push(i);
  }

  private index({ row, col }: { row: number; col: number }): number {
    if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= this.rows || col >= this.cols) return -1;
    return row * this.cols + col;
  }
}
