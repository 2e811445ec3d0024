import { FAILED, WAITING, type CellStore } from './cell-store';
import { DirtyList } from './dirty-list';

/** Bytes per pixel of a tile as the server sends it: RGB, no alpha. */
const RGB = 3;

/**
 * A picture's tile pixels outside React, beside its CellStore: one full-resolution RGB image
 * (cols·tileSize × rows·tileSize) that tiles are copied into as they arrive, and a flag per cell
 * saying whether its pixels are here. Events, the HTTP tile reader and reloads all write through
 * put(); writing a tile twice changes nothing (a tile never changes once recorded). The painter
 * reads the pixels and takes the list of tiles that arrived since its last frame.
 */
export class TileStore {
  readonly width: number;
  readonly height: number;
  readonly tileBytes: number;
  /** The picture so far, RGB, row-major from the top; tiles not here yet are zeros. */
  readonly pixels: Uint8Array;
  /** 1 where the cell's pixels are here. */
  readonly has: Uint8Array;
  private readonly dirty: DirtyList;
  /** Cells whose pixels are here. */
  count = 0;
  /** One tile's worth of bytes, reused to decode each base64 tile before it is copied in. */

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly tileSize: number,
  ) {
    this.width = cols * tileSize;
    this.height = rows * tileSize;
    this.tileBytes = tileSize * tileSize * RGB;
    this.pixels = new Uint8Array(this.width * this.height * RGB);
    this.has = new Uint8Array(rows * cols);
    this.dirty = new DirtyList(rows * cols, 4, false);
  }

  /** Copies one tile's RGB pixels in; false when it was here already or does not fit the picture. */
  put(row: number, col: number, rgb: Uint8Array): boolean {
    if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= this.rows || col >= this.cols) return false;
    if (rgb.length !== this.tileBytes) return false;
    const i = row * this.cols + col;
    if (this.has[i]) return false;
    const T = this.tileSize;
    const rowBytes = T * RGB;
    const stride = this.width * RGB;
    let at = (row * T * this.width + col * T) * RGB;
    for (let y = 0, from = 0; y < T; y++, from += rowBytes, at += stride) {
      this.pixels.set(rgb.subarray(from, from + rowBytes), at);
    }
    this.has[i] = 1;
    this.count++;
    this.dirty.mark(i);
    return true;
  }

  /** Finished cells (a colour in `cells`) whose pixels are not here: what a tile read should bring. */
  missing(cells: CellStore): number {
    let n = 0;
    const { colors } = cells;
    const { has } = this;
    for (let i = 0; i < has.length; i++) if (!has[i] && colors[i] !== WAITING && colors[i] !== FAILED) n++;
    return n;
  }

  /** What changed since the canvas last drew: a list of indices, null for all, or 'none'. */
  takeDirty(): number[] | null | 'none' {
    return this.dirty.take();
  }

  /** The next frame reads every tile again (a new painter, say). */
  invalidate(): void {
    this.dirty.invalidate();
  }
}
