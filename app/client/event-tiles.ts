import type { CellPosition } from '@/lib/types';
import type { TileStore } from './tile-store';

/**
 * A `cells:colored` event's tiles into the picture: one binary attachment holding each cell's
 * pixels in the order of the event's `cells` (an ArrayBuffer in a browser, a Buffer in Node). An
 * attachment that does not hold exactly one tile per cell is ignored: those tiles come over HTTP
 * instead (TileLoader's safety net).
 */
export function putEventTiles(tiles: TileStore, cells: readonly CellPosition[], raw: ArrayBuffer | Uint8Array | undefined): void {
  if (!(raw instanceof ArrayBuffer || ArrayBuffer.isView(raw))) return;
  const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  const size = tiles.tileBytes;
  if (bytes.length !== size * cells.length) return;
  for (let k = 0; k < cells.length; k++) tiles.put(cells[k].row, cells[k].col, bytes.subarray(k * size, (k + 1) * size));
}
