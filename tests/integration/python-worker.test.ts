import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import { pictureParamsOf, renderTile } from '../../lib/pictures/mandelbrot';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { expectBatchSettled } from '../helpers/batch-checks';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { startWebServer, type WorkerProcess } from '../helpers/processes';
import { connectClient, record, startAndJoin, type TestClient } from '../helpers/realtime';

// examples/python/worker.py, unchanged, as a separate process against a real web server with no
// built-in worker: it paints whole batches alone over the lease API, and when it is SIGKILLed
// mid-batch the cells it held come back (its lease expires) and another worker finishes them.

const SCRIPT = fileURLToPath(new URL('../../examples/python/worker.py', import.meta.url));
const TOKEN = 'python-worker-test-token';
const hasPython = spawnSync('python3', ['--version']).status === 0;

let db: TestDatabase;
let base: string;
let server: WorkerProcess;
let socket: TestClient;
let heard: ReturnType<typeof record>;
const running = new Set<ReturnType<typeof spawn>>();

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(db.url, port, { WORKER_TOKEN: TOKEN, LEASE_REQUESTS_PER_SECOND: '1000' });
  socket = await connectClient(base);
  heard = record(socket);
});

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  socket?.disconnect();
  await server?.stop('SIGKILL');
  await db?.drop();
});

function startPython(name: string, env: Record<string, string> = {}) {
  const proc = spawn('python3', [SCRIPT], {
    env: { ...process.env, FINISH_LINE_URL: base, WORKER_TOKEN: TOKEN, WORKER_NAME: name, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  running.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, exited, output: () => output };
}

const start = (body: Record<string, unknown>): Promise<Batch> => startAndJoin(base, socket, heard, body);

async function storedTiles(batchId: string) {
  const { rows } = await db.pool.query<{ row_no: number; col_no: number; tile: Buffer; worker_id: string }>(
    'select row_no, col_no, tile, worker_id from cells where batch_id = $1 and color is not null',
    [batchId],
  );
  return rows;
}

/** Inside pixels (exactly black) where the TypeScript render has them, and nowhere else. */
function expectSameInside(batch: Batch, row: number, col: number, tile: Buffer) {
  const reference = renderTile(pictureParamsOf(batch), row, col);
  expect(tile.length).toBe(reference.length);
  let mismatched = 0;
  for (let p = 0; p < reference.length; p += 3) {
    const black = (b: Uint8Array) => b[p] === 0 && b[p + 1] === 0 && b[p + 2] === 0;
    if (black(reference) !== black(tile)) mismatched++;
  }
  expect(mismatched, `tile (${row}, ${col})`).toBe(0);
}

describe.skipIf(!hasPython)('the Python worker example', () => {
  it('paints a colours batch and a picture alone, every tile classified exactly as the contract says', async () => {
    const worker = startPython('py-alone');
    const colours = await start({ rows: 10, cols: 10 });
    await expectBatchSettled(db, colours.id, { socket, heard }, { status: 'completed', done: 100, failed: 0 });
    const picture = await start({ rows: 3, cols: 4, kind: 'mandelbrot', tileSize: 8, maxIterations: 200 });
    await expectBatchSettled(db, picture.id, { socket, heard }, { status: 'completed', done: 12, failed: 0 });
    const tiles = await storedTiles(picture.id);
    expect(tiles).toHaveLength(12);
    for (const t of tiles) {
      expect(t.worker_id).toBe('lease-py-alone');
      expectSameInside(picture, t.row_no, t.col_no, t.tile);
    }
    // The whole-set view has both: some tiles hold inside pixels, some outside.
    expect(tiles.some((t) => t.tile.includes(0))).toBe(true);
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toMatch(/stopped after painting 112 cells/);
  });

  it('killed mid-batch, it loses nothing: its lease expires and another worker paints those cells', async () => {
    // The whole set in 25 tiles of 32 px, four per short lease: inside pixels take all their 2,000
    // iterations, so the worker spends most of its time rendering, holding a lease.
    const batch = await start({ rows: 5, cols: 5, kind: 'mandelbrot', tileSize: 32, maxIterations: 2000 });
    const first = startPython('py-killed', { MAX: '4', LEASE_SECONDS: '6' });
    // Killed while it holds a lease it has not completed. A lease seen open may have its completion
    // already on the wire, so the worker is frozen first and the lease watched until it ends: expired
    // (the frozen worker can send nothing more) means it was caught holding it; completed means the
    // request was in flight, so the worker is let go on to its next lease and caught again.
    let caught: string | null = null;
    while (caught === null) {
      const held = await waitFor(
        async () => {
          const done = (await findBatch(db.pool, batch.id))!.done;
          const { rows } = await db.pool.query<{ id: string }>(
            `select id from leases where worker_id = 'lease-py-killed' and ended_at is null and jsonb_array_length(jobs) > 0`,
          );
          return done >= 4 && rows[0] ? rows[0].id : null;
        },
        'the first worker to finish a lease and hold the next',
        60_000,
      );
      first.proc.kill('SIGSTOP');
      const outcome = await waitFor(async () => {
        const { rows } = await db.pool.query<{ outcome: string | null }>('select outcome from leases where id = $1', [held]);
        return rows[0]?.outcome ?? null;
      }, 'the held lease to end, completed or expired');
      if (outcome === 'expired') caught = held;
      else first.proc.kill('SIGCONT');
    }
    first.proc.kill('SIGKILL');
    await first.exited;
    const doneAtKill = (await findBatch(db.pool, batch.id))!.done;
    expect(doneAtKill).toBeLessThan(25);

    const second = startPython('py-rescuer', { MAX: '4', LEASE_SECONDS: '30' });
    await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 25, failed: 0 }, { seenAll: true });
    second.proc.kill('SIGTERM');
    await second.exited;

    const tiles = await storedTiles(batch.id);
    expect(new Set(tiles.map((t) => t.worker_id))).toEqual(new Set(['lease-py-killed', 'lease-py-rescuer']));
    for (const t of tiles) expectSameInside(batch, t.row_no, t.col_no, t.tile);
    // The lease it was killed holding came back: its cells were painted by the rescuer.
    const { rows } = await db.pool.query<{ jobs: { row: number; col: number }[] }>('select jobs from leases where id = $1', [caught]);
    const lost = rows[0]!.jobs;
    expect(lost.length).toBeGreaterThan(0);
    const by = new Map(tiles.map((t) => [`${t.row_no},${t.col_no}`, t.worker_id]));
    for (const job of lost) expect(by.get(`${job.row},${job.col}`), `cell (${job.row}, ${job.col})`).toBe('lease-py-rescuer');
  });
});
