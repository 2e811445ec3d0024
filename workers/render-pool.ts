/**
 * Render threads: picture tiles are rendered on `node:worker_threads` threads so that a worker
 * process's event loop — its pg-boss heartbeats, its database writes, the other cells of its
 * fetch — never waits for arithmetic.
 *
 * A tile's time limit runs from the moment a thread starts it, not from when it was queued. A
 * thread that overruns is terminated (JavaScript cannot interrupt a running loop any other way)
 * and a fresh one takes its place, so a hung tile never keeps a thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PictureParams } from '../lib/pictures/mandelbrot';

/** What a render thread is started with. */
export interface RenderThreadData {
  nice: number;
}

/** Main thread → render thread. */
export interface RenderRequest {
  id: number;
  params: PictureParams;
  row: number;
  col: number;
}

/** Render thread → main thread. */
export type RenderReply =
  { type: 'ready' } | { type: 'done'; id: number; rgb: Uint8Array } | { type: 'error'; id: number; message: string };

export interface RenderOptions {
  /** Longest the tile may take once a thread has started it. */
  timeoutMs: number;
  /** Aborting removes a queued tile, or stops its thread if it is being rendered. */
  signal?: AbortSignal;
}

/** A tile that ran past its time limit; its thread was terminated. */
export class TileTimeoutError extends Error {
  override name = 'TileTimeoutError';
  constructor(
    readonly row: number,
    readonly col: number,
    readonly timeoutMs: number,
  ) {
    super(`tile (${row}, ${col}) took longer than its limit of ${timeoutMs} ms to render; its render thread was stopped and replaced`);
  }
}

/** A render thread that failed: it could not start, or it died mid-tile. */
export class RenderThreadError extends Error {
  override name = 'RenderThreadError';
}

interface Task {
  id: number;
  request: RenderRequest;
  timeoutMs: number;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
  resolve(rgb: Uint8Array): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /**
   * The tiles sent to this thread, in order: the first is being rendered, the rest wait in its
   * message queue. A thread holds up to DEPTH, so it starts the next tile the moment it finishes
   * one, without waiting for this event loop to hand it over.
   */
  tasks: Task[];
}

/**
 * Tiles a thread holds at once: one rendering, the rest waiting in its message queue. Most tiles
 * of a picture take well under a millisecond, while this event loop is often busy for several
 * (recording, fetching): a deep queue keeps the thread rendering through those stretches (with 2,
 * the bench's render thread sat idle about a fifth of the run).
 */
const DEPTH = 32;

const THREAD_ENTRY = new URL('./render-thread.ts', import.meta.url);
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How a thread loads TypeScript. A process started with tsx (`node --import tsx`, or the `tsx`
 * command) passes it on through execArgv, which threads inherit; one that was not (Vitest's test
 * processes) gets tsx's loader added, so render-thread.ts loads the same way everywhere.
 */
function threadExecArgv(): string[] | undefined {
  if (process.execArgv.some((arg) => /(^|[\\/=])tsx([\\/]|$)/.test(arg))) return undefined;
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return [...process.execArgv, '--import', loader];
}

export class RenderPool {
  private readonly threads: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private readonly execArgv = threadExecArgv();

  /**
   * Threads start when the first tiles arrive, not here, so an idle pool costs nothing. `nice` is
   * the threads' scheduling niceness (0–19; see render-thread.ts).
   */
  constructor(
    threads = 1,
    private readonly nice = 0,
  ) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`a render pool needs a whole number of threads, at least 1; got ${threads}`);
    if (!Number.isInteger(nice) || nice < 0 || nice > 19)
      throw new RangeError(`a render thread's niceness is a whole number 0–19; got ${nice}`);
    this.threads = threads;
  }

  /** Threads alive now (starting or started); 0 after close(). */
  get size(): number {
    return this.slots.size;
  }

  /** The tile of cell (row, col): tileSize² RGB pixels, as renderTile gives them. */
  render(params: PictureParams, row: number, col: number, opts: RenderOptions): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new RenderThreadError(`the render pool is closed; tile (${row}, ${col}) was not rendered`));
    const { signal } = opts;
    if (!(opts.timeoutMs > 0))
      return Promise.reject(new RangeError(`a tile's time limit must be a positive number of milliseconds; got ${opts.timeoutMs}`));
    // setTimeout fires at once for delays past 2³¹−1 ms (about 24 days); no tile needs longer.
    const timeoutMs = Math.min(opts.timeoutMs, MAX_TIMER_MS);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Uint8Array>((resolve, reject) => {
      const id = this.nextId++;
      const task: Task = { id, request: { id, params, row, col }, timeoutMs, signal, resolve, reject };
      if (signal) {
        task.onAbort = () => this.abort(task, signal.reason);
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.queue.push(task);
      this.dispatch();
    });
  }

  /** Rejects what is queued or running and ends every thread. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new RenderThreadError('the render pool was closed before this tile was rendered');
    for (const task of this.queue.splice(0)) this.settle(task, error);
    const exits: Promise<number>[] = [];
    for (const slot of this.slots) {
      for (const task of slot.tasks.splice(0)) this.settle(task, error);
      exits.push(slot.worker.terminate());
    }
    this.slots.clear();
    await Promise.all(exits);
  }

  /** Gives queued tiles to idle threads, and starts threads while tiles wait and there is room. */
  private dispatch(): void {
    if (this.closed) return;
    for (let depth = 1; depth <= DEPTH; depth++) {
      for (const slot of this.slots) {
        if (this.queue.length === 0) break;
        if (slot.ready && slot.tasks.length < depth) this.send(slot, this.queue.shift()!);
      }
    }
    let starting = [...this.slots].filter((s) => !s.ready).length;
    while (this.queue.length > starting && this.slots.size < this.threads) {
      this.spawn();
      starting++;
    }
  }

  private send(slot: Slot, task: Task): void {
    slot.tasks.push(task);
    if (slot.tasks.length === 1) this.startClock(slot);
    slot.worker.postMessage(task.request);
  }

  /**
   * Starts the time limit of the slot's first tile: the thread begins it when it is sent to an idle
   * thread, or right after it finished the tile before (whose result has just arrived).
   */
  private startClock(slot: Slot): void {
    const task = slot.tasks[0];
    if (!task) return;
    task.timer = setTimeout(() => {
      // The tiles waiting behind it go back to the front of the queue, for a fresh thread.
      const waiting = slot.tasks.slice(1);
      this.retire(slot);
      this.queue.unshift(...waiting);
      this.settle(task, new TileTimeoutError(task.request.row, task.request.col, task.timeoutMs));
      this.dispatch();
    }, task.timeoutMs);
  }

  private spawn(): void {
    const worker = new Worker(THREAD_ENTRY, {
      execArgv: this.execArgv,
      name: 'render-thread',
      workerData: { nice: this.nice } satisfies RenderThreadData,
    });
    const slot: Slot = { worker, ready: false, tasks: [] };
    this.slots.add(slot);
    worker.on('message', (reply: RenderReply) => {
      if (reply.type === 'ready') {
        slot.ready = true;
        this.dispatch();
        return;
      }
      const task = slot.tasks[0];
      if (!task || task.id !== reply.id) return;
      slot.tasks.shift();
      this.startClock(slot);
      if (reply.type === 'done') this.settle(task, undefined, reply.rgb);
      else this.settle(task, new RenderThreadError(`rendering tile (${task.request.row}, ${task.request.col}) failed: ${reply.message}`));
      this.dispatch();
    });
    worker.on('error', (err) => this.lost(slot, err));
    worker.on('exit', (code) => this.lost(slot, new RenderThreadError(`render thread exited with code ${code}`)));
  }

  /** A thread died on its own (an uncaught error, an exit). */
  private lost(slot: Slot, err: Error): void {
    if (!this.slots.delete(slot)) return;
    const [current, ...waiting] = slot.tasks.splice(0);
    if (current) {
      const { row, col } = current.request;
      this.settle(
        current,
        new RenderThreadError(`the render thread died while rendering tile (${row}, ${col}): ${err.message}`, { cause: err }),
      );
    }
    this.queue.unshift(...waiting);
    if (!slot.ready) {
      // It never started: the next one most likely would not either, so fail what waits instead
      // of starting threads in a loop. The next render() tries again.
      const error = new RenderThreadError(`a render thread could not start: ${err.message}`, { cause: err });
      for (const task of this.queue.splice(0)) this.settle(task, error);
      return;
    }
    this.dispatch();
  }

  /** Stops a thread whose tile is no longer wanted or overran; dispatch() starts a replacement. */
  private retire(slot: Slot): void {
    if (!this.slots.delete(slot)) return;
    for (const task of slot.tasks) clearTimeout(task.timer);
    slot.tasks = [];
    slot.worker.removeAllListeners('message');
    // Its 'error'/'exit' must not reach lost(): the slot is already gone, so they are no-ops.
    void slot.worker.terminate();
    this.dispatch();
  }

  private abort(task: Task, reason: unknown): void {
    const queued = this.queue.indexOf(task);
    if (queued >= 0) this.queue.splice(queued, 1);
    else {
      for (const slot of this.slots) {
        const at = slot.tasks.indexOf(task);
        if (at < 0) continue;
        // Its thread is rendering it, or will: stop the thread; the tiles behind it are requeued.
        const others = slot.tasks.filter((t) => t !== task);
        this.retire(slot);
        this.queue.unshift(...others);
      }
    }
    this.settle(task, reason);
  }

  private settle(task: Task, err: unknown, rgb?: Uint8Array): void {
    clearTimeout(task.timer);
    if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
    if (err === undefined && rgb) task.resolve(rgb);
    else task.reject(err);
  }
}
