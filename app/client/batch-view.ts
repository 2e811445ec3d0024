import type { BatchActivityEvent, BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import type { CellStore } from './cell-store';
import type { TileStore } from './tile-store';

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** What the page shows of one batch: the BatchFollower's state, read at the page's own pace. */
export interface BatchView {
  state: 'loading' | 'ready' | 'not_found' | 'error';
  error: string | null;
  batch: Batch | null;
  store: CellStore | null;
  /** A picture's tile pixels, beside `store` (null for a colour batch). */
  tiles: TileStore | null;
  /** Tile pixels are on their way over HTTP (see TileLoader). */
  loadingTiles: boolean;
  /** The latest `batch:activity`: what the fan-out is doing right now. */
  activity: BatchActivityEvent | null;
  /** Distinct finished and failed cells, as of the last refresh. */
  finished: number;
  failed: number;
  /** Finished cells whose worker is known. */
  attributed: number;
  /** A large batch's finished cells are on their way over HTTP (see cells-read.ts). */
  loadingCells: boolean;
  /** The batch's end, published only once the store holds every cell it counts (see endReached). */
  completion: BatchCompletedEvent | null;
  connection: Connection;
  workersAlive: number | null;
  /** An operator paused intake on the dashboard: workers take no cell jobs until it is resumed. */
  intakePaused: boolean;
  /** The tags live workers serve (null until heard, or from a server that does not say). */
  servedTags: string[] | null;
}

/** The view before the follower has heard anything. */
export const EMPTY_VIEW: Readonly<BatchView> = Object.freeze({
  state: 'loading',
  error: null,
  batch: null,
  store: null,
  tiles: null,
  loadingTiles: false,
  activity: null,
  finished: 0,
  failed: 0,
  attributed: 0,
  loadingCells: false,
  completion: null,
  connection: 'connecting',
  workersAlive: null,
  intakePaused: false,
  servedTags: null,
});
