import { FAILED, WAITING, type CellStore } from './cell-store';
import type { ColorBy } from './grid-painter';
import type { TileStore } from './tile-store';
import { workerRgb } from './worker-palette';

/** The picture's longest side on screen, in CSS pixels (the grid's limit too). */
export const MAX_PICTURE_CSS = 800;
/** Tiles not finished yet: the grid's waiting grey (grid-painter.ts's EMPTY_RGB). */
const EMPTY_RGB = 0xe5e7eb;
const FAILED_RGB = 0x374151;
/** How strongly a worker's colour covers its tiles when colouring by worker: the picture stays visible. */
export const TINT_ALPHA = 0.55;
/** Work per animation frame; what does not fit waits for the next frame, so the page stays smooth. */
const FRAME_BUDGET_MS = 8;

/**
 * One axis of the downscale: for each canvas pixel d, the source pixels it covers
 * (`px[start[d]] … px[start[d+1] - 1]`) and how much of each (`weight`, in source pixels), so a
 * canvas pixel is the exact area average of the picture under it (a box filter: no aliasing on a
 * 4096-pixel picture shown 800 wide). At scale 1 each canvas pixel is one source pixel.
 */
export interface Footprints {
  start: Int32Array;
  px: Int32Array;
  weight: Float32Array;
  /** 1 / the weights' sum, per canvas pixel. */
  inverse: Float32Array;
}

export function footprints(source: number, dest: number): Footprints {
  const scale = dest / source;
  const start = new Int32Array(dest + 1);
  const px: number[] = [];
  const weight: number[] = [];
  const inverse = new Float32Array(dest);
  for (let d = 0; d < dest; d++) {
    start[d] = px.length;
    const a = d / scale;
    const b = Math.min(source, (d + 1) / scale);
    let sum = 0;
    for (let p = Math.floor(a); p < Math.min(source, Math.ceil(b)); p++) {
      const w = Math.min(p + 1, b) - Math.max(p, a);
      if (w <= 1e-9) continue;
      px.push(p);
      weight.push(w);
      sum += w;
    }
    inverse[d] = sum > 0 ? 1 / sum : 0;
  }
  start[dest] = px.length;
  return { start, px: Int32Array.from(px), weight: Float32Array.from(weight), inverse };
}

/** The canvas size for a picture: whole, at most `spacePx` device pixels on its longest side, never enlarged. */
export function canvasSizeFor(width: number, height: number, spacePx: number): { width: number; height: number } {
  const scale = Math.min(1, spacePx / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * Paints a picture batch: a finished tile's real pixels where they are here (TileStore), its mean
 * colour while its pixels are on their way, the waiting grey elsewhere (CellStore says what is
 * finished; the TileStore only brings pixels). The canvas holds the
 * picture at most 800 CSS pixels across (whole device pixels, never enlarged: CSS scales a small
 * picture up); each frame recomputes only the canvas pixels under the tiles that changed, within a
 * time budget, and uploads the rectangle that changed. Nothing is redrawn when nothing changed.
 */
export class PicturePainter {
  private image: ImageData;
  private xs: Footprints;
  private ys: Footprints;
  /** Tile column of each source column, tile row of each source row. */
  private readonly colTile: Int32Array;
  private readonly rowTile: Int32Array;
  private colorBy: ColorBy = 'cell';
  private readonly workerColors: number[] = [];
  /** Canvas rectangles waiting to be recomputed, four numbers each (x0, y0, x1, y1), from `head`. */
  private queue: number[] = [];
  private head = 0;
  /** The frame in which each tile was last queued, so a tile finished and given pixels at once is drawn once. */
  private readonly queuedIn: Int32Array;
  private frame = 0;
  /** The next frame uploads the whole image (it was just cleared). */
  private uploadAll = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly ctx: CanvasRenderingContext2D,
    private readonly cells: CellStore,
    private readonly tiles: TileStore,
  ) {
    const T = tiles.tileSize;
    this.colTile = Int32Array.from({ length: tiles.width }, (_, x) => Math.floor(x / T));
    this.rowTile = Int32Array.from({ length: tiles.height }, (_, y) => Math.floor(y / T));
    this.queuedIn = new Int32Array(tiles.rows * tiles.cols).fill(-1);
    this.xs = footprints(1, 1);
    this.ys = footprints(1, 1);
    this.image = ctx.createImageData(1, 1);
    // Whatever the stores hold already is painted by the first frame, in full.
    cells.invalidate();
    tiles.invalidate();
  }

  /**
   * Sizes the canvas to the space it has (at most MAX_PICTURE_CSS CSS pixels on the longest side),
   * keeping the picture's aspect ratio. A new size repaints everything, over as many frames as that takes.
   */
  fit(availableCssWidth: number): void {
    const { canvas, tiles } = this;
    const dpr = window.devicePixelRatio || 1;
    const space = Math.max(1, Math.min(MAX_PICTURE_CSS, availableCssWidth));
    const size = canvasSizeFor(tiles.width, tiles.height, space * dpr);
    if (canvas.width !== size.width || canvas.height !== size.height || this.image.width !== size.width) {
      canvas.width = size.width;
      canvas.height = size.height;
      this.xs = footprints(tiles.width, size.width);
      this.ys = footprints(tiles.height, size.height);
      this.image = this.ctx.createImageData(size.width, size.height);
      this.queueAll(true);
    }
    canvas.style.width = `${(space * tiles.width) / Math.max(tiles.width, tiles.height)}px`;
  }

  setColorBy(colorBy: ColorBy): void {
    if (colorBy === this.colorBy) return;
    this.colorBy = colorBy;
    this.queueAll(false);
  }

  /**
   * Paints what changed since the last frame, as far as this frame's budget goes. Returns the tiles
   * that changed because something arrived (not a full repaint), for the overlay's landing flash.
   */
  draw(): number[] {
    const landed: number[] = [];
    const cellsDirty = this.cells.takeDirty();
    const tilesDirty = this.tiles.takeDirty();
    this.frame++;
    if (cellsDirty === null || tilesDirty === null) {
      this.queueAll(false);
    } else {
      if (cellsDirty !== 'none') for (const i of cellsDirty) if (this.queueTile(i)) landed.push(i);
      if (tilesDirty !== 'none') for (const i of tilesDirty) if (this.queueTile(i)) landed.push(i);
    }
    let left = this.image.width,
      top = this.image.height,
      right = 0,
      bottom = 0;
    if (this.uploadAll) {
      this.uploadAll = false;
      left = top = 0;
      right = this.image.width;
      bottom = this.image.height;
    }
    const q = this.queue;
    const deadline = performance.now() + FRAME_BUDGET_MS;
    while (this.head < q.length) {
      const x0 = q[this.head],
        y0 = q[this.head + 1],
        x1 = q[this.head + 2],
        y1 = q[this.head + 3];
      this.head += 4;
      this.render(x0, y0, x1, y1);
      if (x0 < left) left = x0;
      if (y0 < top) top = y0;
      if (x1 > right) right = x1;
      if (y1 > bottom) bottom = y1;
      if (performance.now() > deadline) break;
    }
    if (this.head >= q.length) {
      this.queue = [];
      this.head = 0;
    }
    if (right > left && bottom > top) this.ctx.putImageData(this.image, 0, 0, left, top, right - left, bottom - top);
    return landed;
  }

  /**
   * Queues the canvas pixels that see tile i (one more on each side where a pixel straddles
   * tiles); false if it was queued in this frame already.
   */
  private queueTile(i: number): boolean {
    if (i < 0 || i >= this.queuedIn.length || this.queuedIn[i] === this.frame) return false;
    this.queuedIn[i] = this.frame;
    const { tiles, image } = this;
    const T = tiles.tileSize;
    const row = Math.floor(i / tiles.cols);
    const col = i - row * tiles.cols;
    const sx = image.width / tiles.width;
    const sy = image.height / tiles.height;
    const x0 = Math.floor(col * T * sx);
    const y0 = Math.floor(row * T * sy);
    const x1 = Math.min(image.width, Math.ceil((col + 1) * T * sx));
    const y1 = Math.min(image.height, Math.ceil((row + 1) * T * sy));
    if (x1 > x0 && y1 > y0) this.queue.push(x0, y0, x1, y1);
    return true;
  }

  /**
   * Everything again: every tile that is not waiting (what was queued before is part of it). With
   * `clear`, a new image starts as the waiting grey all over, at once, so only finished tiles cost
   * work: a picture that has just started repaints in no time.
   */
  private queueAll(clear: boolean): void {
    this.queue = [];
    this.head = 0;
    this.frame++;
    if (clear) {
      const grey = new Uint8ClampedArray([(EMPTY_RGB >> 16) & 255, (EMPTY_RGB >> 8) & 255, EMPTY_RGB & 255, 255]);
      new Uint32Array(this.image.data.buffer).fill(new Uint32Array(grey.buffer)[0]);
      this.uploadAll = true;
    }
    const { colors } = this.cells;
    for (let i = 0; i < colors.length; i++) if (colors[i] !== WAITING) this.queueTile(i);
  }

  /** Recomputes canvas pixels [x0, x1) × [y0, y1) from the stores, into the image (not the canvas). */
  private render(x0: number, y0: number, x1: number, y1: number): void {
    const data = this.image.data;
    const dw = this.image.width;
    const { xs, ys, colTile, rowTile } = this;
    const { pixels, has, width: W, cols } = this.tiles;
    const { colors } = this.cells;
    const workerOf = this.cells.workers.of;
    const tint = this.colorBy === 'worker';
    const keep = 1 - TINT_ALPHA;
    for (let dy = y0; dy < y1; dy++) {
      const yFrom = ys.start[dy],
        yTo = ys.start[dy + 1],
        yInv = ys.inverse[dy];
      for (let dx = x0; dx < x1; dx++) {
        const xFrom = xs.start[dx],
          xTo = xs.start[dx + 1];
        let r = 0,
          g = 0,
          b = 0;
        for (let k = yFrom; k < yTo; k++) {
          const py = ys.px[k];
          const wy = ys.weight[k];
          const tileRow = rowTile[py] * cols;
          const line = py * W;
          for (let m = xFrom; m < xTo; m++) {
            const px = xs.px[m];
            const w = xs.weight[m] * wy;
            const i = tileRow + colTile[px];
            const value = colors[i];
            let R: number, G: number, B: number;
            // Pixels show once the cell is finished: a tile read may bring tiles before their events,
            // and the picture must not run ahead of the counts.
            if (value >= 0 && has[i]) {
              const o = (line + px) * 3;
              R = pixels[o];
              G = pixels[o + 1];
              B = pixels[o + 2];
            } else {
              const rgb = value >= 0 ? value : value === FAILED ? FAILED_RGB : EMPTY_RGB;
              R = (rgb >> 16) & 255;
              G = (rgb >> 8) & 255;
              B = rgb & 255;
            }
            if (tint && value >= 0) {
              const c = this.workerColor(workerOf[i]);
              R = R * keep + ((c >> 16) & 255) * TINT_ALPHA;
              G = G * keep + ((c >> 8) & 255) * TINT_ALPHA;
              B = B * keep + (c & 255) * TINT_ALPHA;
            }
            r += w * R;
            g += w * G;
            b += w * B;
          }
        }
        const norm = xs.inverse[dx] * yInv;
        const p = (dy * dw + dx) * 4;
        // Uint8ClampedArray rounds to the nearest integer.
        data[p] = r * norm;
        data[p + 1] = g * norm;
        data[p + 2] = b * norm;
        data[p + 3] = 255;
      }
    }
  }

  private workerColor(slot: number): number {
    return (this.workerColors[slot] ??= workerRgb(slot));
  }
}
