import type { Batch, ColoredCell, FailedCell } from '@/lib/types';
import { CellStore } from './cell-store';
import { putEventTiles } from './event-tiles';
import type { TileLoader } from './tile-loader';
import { TileStore } from './tile-store';

/** A picture batch, with the parameters its tiles need. */
export function isPicture(batch: Batch): batch is Batch & { tileSize: number } {
  return batch.kind === 'mandelbrot' && typeof batch.tileSize === 'number' && batch.tileSize > 0;
}

/** Finished cells as a `cells:colored` event brings them: with their worker, and a picture's tiles inline. */
export interface FinishedNews {
  cells: ColoredCell[];
  worker?: string;
  tiles?: ArrayBuffer | Uint8Array;
}

/**
 * A batch's cells (CellStore) and, for a picture, its tile pixels (TileStore) with the loader that
 * brings those the socket did not. Made from the first join answer, when the grid's size is known;
 * events, later answers and HTTP reads all write here, and writing a cell twice changes nothing.
 */
export class BatchGrid {
  readonly store: CellStore;
  readonly tiles: TileStore | null;
  readonly tileLoader: TileLoader | null;

  constructor(batch: Batch, loaderFor: (tiles: TileStore) => TileLoader) {
    this.store = new CellStore(batch.rows, batch.cols);
    this.tiles = isPicture(batch) ? new TileStore(batch.rows, batch.cols, batch.tileSize) : null;
    this.tileLoader = this.tiles ? loaderFor(this.tiles) : null;
  }

  applyFinished(news: FinishedNews): void {
    this.store.applyFinished(news.cells, news.worker);
    if (this.tiles) putEventTiles(this.tiles, news.cells, news.tiles);
  }

  applyFailed(cells: readonly FailedCell[]): void {
    this.store.applyFailed(cells);
  }
}
