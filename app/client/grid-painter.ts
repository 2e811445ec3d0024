import { FAILED, WAITING, type CellStore } from './cell-store';
import { workerRgb } from './worker-palette';

/** What a finished cell shows: its own colour, or the colour of the worker that recorded it. */
export type ColorBy = 'cell' | 'worker';

const MAX_CSS_WIDTH = 800;
/** Waiting cells: a light neutral grey that no screen reader or test mistakes for a result. */
const EMPTY_RGB = [0xe5, 0xe7, 0xeb] as const;
const FAILED_RGB = [0x37, 0x41, 0x51] as const;
const GRIDLINE_RGB = '#FFFFFF';
const FAILED_MARK = '#EF4444';
/** Below this many device pixels per cell, gridlines would hide the colours instead of framing them. */
const GRIDLINE_MIN_CELL_PX = 6;

/**
 * Paints a CellStore onto a canvas. An offscreen image holds one pixel per cell; each frame writes
 * only the changed cells into it and scales it up with smoothing off, so 1000×1000 stays cheap and
 * every cell is a block of whole device pixels of exactly its colour. Gridlines sit on a cell's
 * first row and column of pixels, never on its centre.
 */
export class GridPainter {
  private readonly offscreen: HTMLCanvasElement;
  private readonly offCtx: CanvasRenderingContext2D;
  private readonly image: ImageData;
  private cellPx = 1;
  private colorBy: ColorBy = 'cell';
  /** workerRgb by slot, filled as slots appear: a million lookups on a toggle stay array reads. */
  private readonly workerColors: number[] = [];

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly ctx: CanvasRenderingContext2D,
    private readonly store: CellStore,
  ) {
    this.offscreen = document.createElement('canvas');
    this.offscreen.width = store.cols;
    this.offscreen.height = store.rows;
    const offCtx = this.offscreen.getContext('2d');
    if (!offCtx) throw new Error('This browser gave no 2D canvas context for the grid.');
    this.offCtx = offCtx;
    this.image = offCtx.createImageData(store.cols, store.rows);
  }

  /**
   * Sizes the canvas to the space it has: whole device pixels per cell (so a cell's centre pixel is
   * its colour), at most MAX_CSS_WIDTH wide or tall, aspect ratio kept.
   */
  fit(availableCssWidth: number): void {
    const { canvas, store } = this;
    const dpr = window.devicePixelRatio || 1;
    const space = Math.max(1, Math.min(MAX_CSS_WIDTH, availableCssWidth));
    const longest = Math.max(store.cols, store.rows);
    const cellPx = Math.max(1, Math.floor((space * dpr) / longest));
    const width = cellPx * store.cols;
    const height = cellPx * store.rows;
    if (canvas.width !== width || canvas.height !== height) {
      // Resizing clears the canvas, so everything is drawn again next frame.
      canvas.width = width;
      canvas.height = height;
      store.invalidate();
    }
    this.cellPx = cellPx;
    // CSS scales the picture when whole pixels fit badly: one pixel per cell can be wider than the
    // page (1000 cells at dpr 1) or leave much of it empty (500 cells). Nearest-neighbour scaling
    // keeps cells crisp; the backing pixels, and so each cell's centre, stay exact. The height
    // follows the canvas's own aspect ratio.
    const natural = Math.max(width, height) / dpr;
    const scale = natural > space || natural < space * 0.75 ? space / natural : 1;
    canvas.style.width = `${(width / dpr) * scale}px`;
  }

  /** Switches what finished cells show; the next frame repaints every cell, in one pass. */
  setColorBy(colorBy: ColorBy): void {
    if (colorBy === this.colorBy) return;
    this.colorBy = colorBy;
    this.store.invalidate();
  }

  /** Draws what changed since the last call; cheap when nothing did. */
  draw(): void {
    const { store } = this;
    const dirty = store.takeDirty();
    if (dirty === 'none') return;
    if (dirty === null) {
      for (let i = 0; i < store.colors.length; i++) this.writePixel(i);
      this.offCtx.putImageData(this.image, 0, 0);
    } else {
      // Upload only the rectangle that changed; a few cells a frame should not copy the whole image.
      let top = store.rows,
        left = store.cols,
        bottom = -1,
        right = -1;
      for (const i of dirty) {
        this.writePixel(i);
        const row = Math.floor(i / store.cols);
        const col = i - row * store.cols;
        if (row < top) top = row;
        if (row > bottom) bottom = row;
        if (col < left) left = col;
        if (col > right) right = col;
      }
      this.offCtx.putImageData(this.image, 0, 0, left, top, right - left + 1, bottom - top + 1);
    }
    const { ctx, canvas } = this;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.offscreen, 0, 0, canvas.width, canvas.height);
    if (this.cellPx >= GRIDLINE_MIN_CELL_PX) this.drawOverlay();
  }

  private writePixel(i: number): void {
    let value = this.store.colors[i];
    // Failed and waiting cells look the same in both modes.
    if (value >= 0 && this.colorBy === 'worker') value = this.workerColor(this.store.workers.of[i]);
    const data = this.image.data;
    const p = i * 4;
    if (value === WAITING || value === FAILED) {
      const rgb = value === WAITING ? EMPTY_RGB : FAILED_RGB;
      data[p] = rgb[0];
      data[p + 1] = rgb[1];
      data[p + 2] = rgb[2];
    } else {
      data[p] = (value >> 16) & 255;
      data[p + 1] = (value >> 8) & 255;
      data[p + 2] = value & 255;
    }
    data[p + 3] = 255;
  }

  private workerColor(slot: number): number {
    return (this.workerColors[slot] ??= workerRgb(slot));
  }

  /** Gridlines on each cell's top and left edge, and a cross over failed cells large enough to show one. */
  private drawOverlay(): void {
    const { ctx, store, cellPx, canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    // Thin on screen at any zoom, and always far narrower than half a cell.
    const line = Math.max(1, Math.min(Math.round(dpr), Math.floor(cellPx / 8)));
    ctx.fillStyle = GRIDLINE_RGB;
    for (let c = 1; c < store.cols; c++) ctx.fillRect(c * cellPx, 0, line, canvas.height);
    for (let r = 1; r < store.rows; r++) ctx.fillRect(0, r * cellPx, canvas.width, line);
    if (store.failed === 0) return;
    ctx.strokeStyle = FAILED_MARK;
    ctx.lineWidth = Math.max(1, cellPx / 8);
    const pad = cellPx * 0.25;
    ctx.beginPath();
    for (const i of store.errors.keys()) {
      const x = (i % store.cols) * cellPx;
      const y = Math.floor(i / store.cols) * cellPx;
      ctx.moveTo(x + pad, y + pad);
      ctx.lineTo(x + cellPx - pad, y + cellPx - pad);
      ctx.moveTo(x + cellPx - pad, y + pad);
      ctx.lineTo(x + pad, y + cellPx - pad);
    }
    ctx.stroke();
  }
}
