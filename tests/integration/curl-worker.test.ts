import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import { meanColor, pictureParamsOf, renderTile } from '../../lib/pictures/mandelbrot';
import { decodePng } from '../../lib/pictures/png-decode';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { expectBatchSettled } from '../helpers/batch-checks';
import { send } from '../helpers/http';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, record, startAndJoin, type TestClient } from '../helpers/realtime';

// The bash worker of examples/curl (curl + jq + POSIX tools), run as it would be run: a child
// process against a real web server with no built-in worker, so every cell here is painted by the
// script. Its tiles must be the server's own render, pixel for pixel (the same doubles in awk).
//
// The script needs jq, which a fresh machine may lack: then these tests skip (they say so).

const SCRIPT = fileURLToPath(new URL('../../examples/curl/worker.sh', import.meta.url));
const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const hasTools = has('jq') && has('curl') && has('bash');
const TOKEN = 'curl-worker-test-token';

let db: TestDatabase;
let base: string;
let server: WorkerProcess;
let socket: TestClient;
let heard: ReturnType<typeof record>;
/** The worker painting the default tag through the first tests. */
let worker: Script;
/** Every script started, so none outlives a failed test. */
const started: ChildProcess[] = [];
const builtIn: WorkerProcess[] = [];

interface Script {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the bash worker against `url` with the given settings (all set, so none leaks in from the shell). */
function startScript(env: Record<string, string>, url = base): Script {
  const proc = spawn('bash', [SCRIPT], {
    env: { ...process.env, FINISH_LINE_URL: url, WORKER_TOKEN: TOKEN, TAG: 'default', MAX: '10', LEASE_SECONDS: '60', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(proc);
  let output = '';
  proc.stdout!.on('data', (chunk) => (output += chunk));
  proc.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => output, exited };
}

/** Stops a script with `signal` and returns how it ended, failing if it takes longer than `withinMs`. */
async function stopScript(script: Script, signal: NodeJS.Signals, withinMs = 15_000) {
  const asked = Date.now();
  if (script.proc.exitCode === null && script.proc.signalCode === null) script.proc.kill(signal);
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`the script did not stop within ${withinMs} ms:\n${script.output()}`)), withinMs).unref(),
  );
  const ended = await Promise.race([script.exited, timer]);
  return { ...ended, ms: Date.now() - asked };
}

const start = (body: Record<string, unknown>): Promise<Batch> => startAndJoin(base, socket, heard, body);

/** The script's colour for a colours cell (examples/curl/worker.sh, cell_color). */
const scriptColor = (row: number, col: number) =>
  '#' +
  [(row * 53 + 40) % 256, (col * 71 + 90) % 256, ((row + col) * 29 + 140) % 256]
    .map((v) => v.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();

/** Every cell's colour is the mean of the server's own render of its tile: the same pixels, exactly. */
async function expectServerRender(batch: Batch): Promise<void> {
  const cells = await listCells(db.pool, batch.id);
  expect(cells).toHaveLength(batch.total);
  for (const cell of cells)
    expect(cell.color, `cell (${cell.row}, ${cell.col})`).toBe(meanColor(renderTile(pictureParamsOf(batch), cell.row, cell.col)));
  // The stored tiles themselves, as the page receives them (GET …/tiles: row, col, then RGB).
  const tiles = Buffer.from(await (await fetch(`${base}/api/batches/${batch.id}/tiles`)).arrayBuffer());
  const T = batch.tileSize!;
  const record = 4 + T * T * 3;
  expect(tiles.length).toBe(batch.total * record);
  for (let at = 0; at < tiles.length; at += record) {
    const [row, col] = [tiles.readUInt16BE(at), tiles.readUInt16BE(at + 2)];
    expect(
      Buffer.compare(tiles.subarray(at + 4, at + record), Buffer.from(renderTile(pictureParamsOf(batch), row, col))),
      `tile (${row}, ${col})`,
    ).toBe(0);
  }
}

/** The cells the script logged as recorded, summed over its completions. */
const recordedIn = (output: string) => [...output.matchAll(/recorded (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);

describe.skipIf(!hasTools)('the bash worker (examples/curl/worker.sh; skipped where jq or curl is not installed)', () => {
  beforeAll(async () => {
    db = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await startWebServer(db.url, port, { WORKER_TOKEN: TOKEN });
    socket = await connectClient(base);
    heard = record(socket);
    worker = startScript({ WORKER_NAME: 'curl-test' });
  });

  afterAll(async () => {
    for (const proc of started) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    socket?.disconnect();
    await Promise.all(builtIn.map((w) => w.stop('SIGKILL')));
    await server?.stop('SIGKILL');
    await db?.drop();
  });

  it('paints a whole colours batch alone: every cell in the colour it chose, the batch completed once', async () => {
    const batch = await start({ rows: 5, cols: 5 });
    const ended = await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 25, failed: 0 });
    expect(ended.lastWorker).toBe('lease-curl-test');
    for (const cell of await listCells(db.pool, batch.id)) expect(cell.color).toBe(scriptColor(cell.row, cell.col));
    // MAX=10: at least three leases of at most 10 cells, together the 25, none ignored. The script
    // logs a completion once its answer is read, which may be after the batch has ended.
    await waitFor(() => recordedIn(worker.output()) >= 25 || null, 'the script to log its last completion');
    const recorded = [...worker.output().matchAll(/recorded (\d+), ignored 0/g)].map((m) => Number(m[1]));
    expect(recorded.length, worker.output()).toBeGreaterThanOrEqual(3);
    expect(Math.max(...recorded)).toBeLessThanOrEqual(10);
    expect(recorded.reduce((n, r) => n + r, 0)).toBe(25);
  });

  it('paints a picture alone, tile for tile the server’s own render, and its image is the TypeScript render', async () => {
    // The whole set: inside (black) and outside pixels, and the boundary between them.
    const batch = await start({
      rows: 3,
      cols: 3,
      kind: 'mandelbrot',
      tileSize: 8,
      maxIterations: 100,
      view: { x: -0.75, y: 0, width: 3.5 },
    });
    const ended = await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 9, failed: 0 });
    expect(ended.lastWorker).toBe('lease-curl-test');
    const pixels = Array.from({ length: 9 }, (_, i) => renderTile(pictureParamsOf(batch), Math.floor(i / 3), i % 3));
    const black = pixels.flatMap((t) => Array.from({ length: 64 }, (_, p) => t[p * 3] + t[p * 3 + 1] + t[p * 3 + 2] === 0));
    expect(black.some((b) => b) && black.some((b) => !b)).toBe(true);
    await expectServerRender(batch);

    // The image stage runs in built-in workers: one that serves a tag no batch has builds the
    // images and paints nothing.
    builtIn.push(startWorker(db.url, 'w-images-only', { WORKER_TAGS: 'images-only' }));
    const image = await waitFor(async () => (await findBatch(db.pool, batch.id))?.image ?? null, 'the picture’s image', 60_000);
    expect(image).toMatchObject({ width: 24, height: 24 });
    const png = await fetch(`${base}${image.url}`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const decoded = decodePng(Buffer.from(await png.arrayBuffer()));
    expect(decoded).toMatchObject({ width: 24, height: 24 });
    let differing = 0;
    for (let py = 0; py < 24; py++) {
      for (let px = 0; px < 24; px++) {
        const tile = pixels[Math.floor(py / 8) * 3 + Math.floor(px / 8)]!;
        const t = ((py % 8) * 8 + (px % 8)) * 3;
        const o = (py * 24 + px) * 4;
        const want = [tile[t], tile[t + 1], tile[t + 2], 255];
        if (want.some((v, k) => decoded.rgba[o + k] !== v)) differing++;
      }
    }
    expect(differing).toBe(0);
  });

  it('asked to stop mid-lease, completes the tiles it painted and leaves the rest, which come back to another worker', async () => {
    // A tag of its own, so the first worker stays out; tiles slow enough in awk that a lease
    // of them takes seconds, and a short lease so the abandoned cells come back soon (though not
    // shorter than a tile takes in awk on a loaded machine: at 4 s, a CI run saw the lease expire
    // under the first tile, and its completion was refused).
    const batch = await start({
      rows: 4,
      cols: 4,
      kind: 'mandelbrot',
      tileSize: 32,
      maxIterations: 2000,
      view: { x: -0.55, y: 0.6, width: 0.5 },
      tag: 'stop-test',
    });
    await waitFor(async () => (await jobStates(db.pool, batch.id)).created === 16, 'the jobs of the batch');
    const first = startScript({ WORKER_NAME: 'curl-stopped', TAG: 'stop-test', MAX: '16', LEASE_SECONDS: '10', VERBOSE: '1' });
    await waitFor(() => /lease \S+: 16 cells/.test(first.output()), 'the first script to lease every cell');
    await waitFor(() => /painted cell/.test(first.output()), 'the first script to paint a tile');
    const stopped = await stopScript(first, 'SIGTERM');
    expect(stopped, first.output()).toMatchObject({ code: 0, signal: null });
    const output = first.output();
    expect(output).toMatch(/stopping; the \d+ cells not painted come back when it expires/);
    expect(output.trimEnd()).toMatch(/: stopped$/);
    // What it completed is recorded, nothing more; the rest was left to its lease's expiry.
    const recorded = recordedIn(output);
    expect(recorded, output).toBeGreaterThanOrEqual(1);
    expect(recorded, output).toBeLessThan(16);
    expect((await findBatch(db.pool, batch.id))!.done).toBe(recorded);
    console.log(`stopped ${stopped.ms} ms after SIGTERM, having completed ${recorded} of 16 tiles`);

    const second = startScript({ WORKER_NAME: 'curl-second', TAG: 'stop-test', MAX: '16', LEASE_SECONDS: '60' });
    try {
      await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 16, failed: 0 });
      await expectServerRender(batch);
      // Its log line follows the answer to its last completion, which may come after the batch ended.
      await waitFor(() => recordedIn(second.output()) === 16 - recorded, `the second script to have recorded the other ${16 - recorded}`);
    } finally {
      await stopScript(second, 'SIGTERM');
    }
  });

  it('stops on SIGINT when idle, at once and with status 0', async () => {
    const stopped = await stopScript(worker, 'SIGINT', 5000);
    expect(stopped, worker.output()).toMatchObject({ code: 0, signal: null });
    expect(worker.output().trimEnd()).toMatch(/curl-test: stopped$/);
  });

  it('says what is wrong and exits 1 on a wrong token (401) or a server without the lease API (404); waits out 429s', async () => {
    const wrong = startScript({ WORKER_TOKEN: 'not-the-token' });
    expect((await wrong.exited).code).toBe(1);
    expect(wrong.output()).toMatch(/refused the worker token \(401\): set WORKER_TOKEN to the server's WORKER_TOKEN/);

    const missing = startScript({ WORKER_TOKEN: '' });
    expect((await missing.exited).code).toBe(1);
    expect(missing.output()).toMatch(/set WORKER_TOKEN/);

    const closedPort = await freePort();
    const closed = await startWebServer(db.url, closedPort);
    try {
      const lost = startScript({}, `http://127.0.0.1:${closedPort}`);
      expect((await lost.exited).code).toBe(1);
      expect(lost.output()).toMatch(/has no lease API \(404\): start the server with WORKER_TOKEN set/);
    } finally {
      await closed.stop('SIGKILL');
    }

    // One lease request a second, and for the script's first three seconds another client of the
    // same token takes each second's request as the second begins (however slowly the script runs,
    // its requests then get 429): the script waits the Retry-After out and goes on, and the batch
    // still completes.
    const limitedPort = await freePort();
    const limited = await startWebServer(db.url, limitedPort, { WORKER_TOKEN: TOKEN, LEASE_REQUESTS_PER_SECOND: '1' });
    const slow = startScript({ WORKER_NAME: 'curl-limited', TAG: 'limited', MAX: '1' }, `http://127.0.0.1:${limitedPort}`);
    try {
      const batch = await start({ rows: 1, cols: 3, tag: 'limited' });
      const hogUntil = Date.now() + 3000;
      const answers = new Set<number>();
      while (Date.now() < hogUntil) {
        const answer = await send(`http://127.0.0.1:${limitedPort}/api/leases`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ tag: 'rate-hog', max: 1, worker: 'rate-hog' }),
        });
        answers.add(answer.status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(answers.has(429)).toBe(true);
      await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 3, failed: 0 });
      expect(slow.output()).toMatch(/rate limited \(429\); trying again in 1 s/);
    } finally {
      await stopScript(slow, 'SIGTERM');
      await limited.stop('SIGKILL');
    }
  });
});
