import path from 'node:path';
import { BENCH_PARAMS } from '../../../lib/pictures/mandelbrot';

/** What the picture bench renders, in which setups, and the app settings its report echoes. */

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const PARAMS = BENCH_PARAMS;
export const TILES = PARAMS.rows * PARAMS.cols;
export const PIXELS = TILES * PARAMS.tileSize * PARAMS.tileSize;
export const SETUPS = [1, 2] as const;
/** A small picture of the same region first, untimed, so render threads are up and code is hot. */
export const WARMUP = { rows: 16, cols: 16 };
/** Settings of the app's that shape this bench; echoed into the report as they were in the environment. */
export const TUNABLES = ['TILE_FETCH_SIZE', 'RENDER_THREADS', 'WORKER_LOOPS', 'CELL_TIMEOUT_MS', 'DB_POOL_SIZE'];
