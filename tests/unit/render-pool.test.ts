import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderTile, type PictureParams } from '../../lib/pictures/mandelbrot';
import { RenderPool, TileTimeoutError } from '../../workers/render-pool';

const whole: PictureParams = { view: { x: -0.75, y: 0, width: 3.5 }, maxIterations: 500, tileSize: 16, rows: 4, cols: 4 };
/** Centred on c = 0, inside the set: every pixel runs all its iterations, so it takes a while. */
const slow: PictureParams = { view: { x: 0, y: 0, width: 0.01 }, maxIterations: 100_000, tileSize: 64, rows: 1, cols: 1 };

let pool: RenderPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe('RenderPool', () => {
  it('renders the same bytes as renderTile, on another thread', async () => {
    pool = new RenderPool(2);
    const cells = [...Array(whole.rows * whole.cols).keys()].map((i) => [Math.floor(i / whole.cols), i % whole.cols] as const);
    const tiles = await Promise.all(cells.map(([row, col]) => pool!.render(whole, row, col, { timeoutMs: 30_000 })));
    cells.forEach(([row, col], i) => {
      expect(tiles[i]).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(tiles[i]).equals(Buffer.from(renderTile(whole, row, col)))).toBe(true);
    });
  });

  it.skipIf(process.platform !== 'linux')('lowers its render threads alone to the niceness it is given (Linux)', async () => {
    // /proc/self/task/<tid>/stat: field 19 is the thread's nice value (fields after the name, which
    // sits in parentheses, start at field 3).
    // A thread can end between the listing and the read (a pool closed by the test before).
    const niceOfThreads = () =>
      readdirSync('/proc/self/task').flatMap((tid) => {
        let stat: string;
        try {
          stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        } catch {
          return [];
        }
        return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
      });
    const processNice = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = niceOfThreads();
    const processBefore = processNice();
    pool = new RenderPool(2, 7);
    await Promise.all([0, 1, 2, 3].map((i) => pool!.render(whole, i, i, { timeoutMs: 30_000 })));
    expect(pool.size).toBe(2);
    // A thread lowers itself as it starts; the other may still be loading when the first has
    // rendered all four tiles.
    const lowered = () => niceOfThreads().filter((n) => n === 7).length - before.filter((n) => n === 7).length;
    await vi.waitFor(() => expect(lowered()).toBe(2), { timeout: 10_000, interval: 20 });
    // The process itself, and so its other threads, stays where it was.
    expect(processNice()).toBe(processBefore);
    expect(() => new RenderPool(1, 20)).toThrow(RangeError);
  });

  it('rejects a tile over its time limit, naming the cell, and renders afterwards', async () => {
    pool = new RenderPool(1);
    const late = pool.render(slow, 0, 0, { timeoutMs: 300 });
    // Queued behind the slow tile for longer than its own limit: it must still render, because
    // a limit starts when a thread takes the tile, not when it is queued.
    const next = pool.render(whole, 1, 2, { timeoutMs: 250 });
    await expect(late).rejects.toThrow(TileTimeoutError);
    await expect(late).rejects.toThrow(/tile \(0, 0\).*300 ms/);
    expect(Buffer.from(await next).equals(Buffer.from(renderTile(whole, 1, 2)))).toBe(true);
    expect(pool.size).toBe(1);
  });

  it('charges a tile waiting inside a thread only from when the tile before it finished', async () => {
    pool = new RenderPool(1);
    // Slow but within its limit (a few hundred ms at this budget), then a quick tile whose own limit
    // is shorter than the slow one's run: it waits in the thread's queue and must still render.
    const slowish: PictureParams = { ...slow, maxIterations: 20_000 };
    const started = Date.now();
    const first = pool.render(slowish, 0, 0, { timeoutMs: 30_000 });
    const second = pool.render(whole, 2, 1, { timeoutMs: 100 });
    await first;
    const firstMs = Date.now() - started;
    expect(Buffer.from(await second).equals(Buffer.from(renderTile(whole, 2, 1)))).toBe(true);
    expect(firstMs).toBeGreaterThan(100);
  });

  it('drops a queued tile whose signal aborts, and stops a running one', async () => {
    pool = new RenderPool(1);
    const running = new AbortController();
    const queued = new AbortController();
    const first = pool.render(slow, 0, 0, { timeoutMs: 60_000, signal: running.signal });
    const second = pool.render(slow, 0, 0, { timeoutMs: 60_000, signal: queued.signal });
    queued.abort(new Error('batch cancelled'));
    await expect(second).rejects.toThrow('batch cancelled');
    running.abort(new Error('fetch gave up'));
    await expect(first).rejects.toThrow('fetch gave up');
    await expect(pool.render(whole, 0, 0, { timeoutMs: 20_000, signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow(
      'already',
    );
    expect((await pool.render(whole, 0, 0, { timeoutMs: 20_000 })).length).toBe(16 * 16 * 3);
  });

  it('close() ends the threads and rejects what is pending', async () => {
    pool = new RenderPool(2);
    await Promise.all([pool.render(whole, 0, 0, { timeoutMs: 20_000 }), pool.render(whole, 0, 1, { timeoutMs: 20_000 })]);
    expect(pool.size).toBe(2);
    const pending = expect(pool.render(slow, 0, 0, { timeoutMs: 60_000 })).rejects.toThrow(/closed/);
    // A worker thread shows as its MessagePort among the process's active handles.
    const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = ports();
    await pool.close();
    await pending;
    expect(pool.size).toBe(0);
    expect(ports()).toBe(before - 2);
    await expect(pool.render(whole, 0, 0, { timeoutMs: 1000 })).rejects.toThrow(/closed/);
  });
});
