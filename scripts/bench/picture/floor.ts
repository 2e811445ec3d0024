import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { meanColor, renderTile } from '../../../lib/pictures/mandelbrot';
import { PARAMS, ROOT, TILES } from './constants';
import type { CpuReport } from './cpu';
import { BenchError } from './errors';

/**
 * The floor: the same picture rendered in this process with no queue and no database, on one core
 * (a plain loop) or on n (worker threads, interleaved rows). The app's time is judged against it.
 */

export interface FloorRun {
  cores: number;
  wallMs: number;
  cpu: CpuReport;
  /** Each tile's mean colour, row-major, to check the app drew the same picture. */
  colors: string[];
  /** One core only: each tile's render time, for the distribution. */
  tileMs?: number[];
}

/** One core: a plain loop over renderTile in this thread. */
export function floorOneCore(): { wallMs: number; colors: string[]; tileMs: number[] } {
  const tiles: Uint8Array[] = new Array(TILES);
  const tileMs: number[] = new Array(TILES);
  const started = performance.now();
  let last = started;
  for (let row = 0; row < PARAMS.rows; row++) {
    for (let col = 0; col < PARAMS.cols; col++) {
      tiles[row * PARAMS.cols + col] = renderTile(PARAMS, row, col);
      const now = performance.now();
      tileMs[row * PARAMS.cols + col] = now - last;
      last = now;
    }
  }
  const wallMs = performance.now() - started;
  return { wallMs, colors: tiles.map(meanColor), tileMs };
}

/** The code of a floor thread: renders rows k, k+n, k+2n … when told to, then their colours. */
const FLOOR_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(({ renderTile, meanColor }) => {
  parentPort.once('message', () => {
    const { params, index, count } = workerData;
    const tiles = [];
    for (let row = index; row < params.rows; row += count) {
      for (let col = 0; col < params.cols; col++) tiles.push([row, col, renderTile(params, row, col)]);
    }
    parentPort.postMessage({ type: 'done', at: performance.timeOrigin + performance.now() });
    parentPort.postMessage({ type: 'colors', colors: tiles.map(([row, col, rgb]) => [row, col, meanColor(rgb)]) });
    parentPort.on('message', () => undefined); // stays until terminated: an exit means a failure
  });
  parentPort.postMessage({ type: 'ready' });
}, (err) => { throw err; });
`;

/** Two cores (or n): n worker threads of this process, each rendering every n-th row; no database. */
export async function floorThreads(
  count: number,
  track: (stop: () => Promise<void>) => () => void,
  atStart: () => void,
  beforeEnd: () => void,
): Promise<{ wallMs: number; colors: string[] }> {
  const module = pathToFileURL(path.join(ROOT, 'lib/pictures/mandelbrot.ts')).href;
  const threads = Array.from(
    { length: count },
    (_, index) =>
      new Worker(FLOOR_THREAD, { eval: true, name: `floor-thread-${index}`, workerData: { module, params: PARAMS, index, count } }),
  );
  const untrack = track(async () => void (await Promise.all(threads.map((t) => t.terminate()))));
  try {
    const failed = new Promise<never>((_, reject) => {
      for (const t of threads) {
        t.once('error', (err) => reject(new BenchError(`a floor thread failed: ${err.message}`, { cause: err })));
        t.once('exit', (code) => reject(new BenchError(`a floor thread exited early (code ${code})`)));
      }
    });
    failed.catch(() => undefined);
    const next = (t: Worker, type: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const onMessage = (m: Record<string, unknown>) => {
          if (m.type !== type) return;
          t.off('message', onMessage);
          resolve(m);
        };
        t.on('message', onMessage);
      });
    await Promise.race([
      Promise.all(threads.map((t) => next(t, 'ready'))),
      failed,
      sleep(60_000).then(() => Promise.reject(new BenchError('floor threads did not start within 60 s'))),
    ]);
    const done = threads.map((t) => next(t, 'done'));
    const colorsMsgs = threads.map((t) => next(t, 'colors'));
    atStart();
    const goAt = performance.timeOrigin + performance.now();
    for (const t of threads) t.postMessage('go');
    const ends = await Promise.race([Promise.all(done), failed]);
    beforeEnd();
    const wallMs = Math.max(...ends.map((m) => m.at as number)) - goAt;
    const colors: string[] = new Array(TILES);
    for (const m of await Promise.race([Promise.all(colorsMsgs), failed])) {
      for (const [row, col, color] of m.colors as [number, number, string][]) colors[row * PARAMS.cols + col] = color;
    }
    return { wallMs, colors };
  } finally {
    for (const t of threads) t.removeAllListeners('exit');
    await Promise.all(threads.map((t) => t.terminate()));
    untrack();
  }
}
