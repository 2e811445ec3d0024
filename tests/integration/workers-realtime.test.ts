import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import type { Batch } from '../../lib/types';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { startWorker, type WorkerProcess } from '../helpers/processes';
import { startProxy } from '../../scripts/tcp-proxy';
import { connectClient, drain, expectCompletedOnce, join, record, startRealtime, type TestClient } from '../helpers/realtime';

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let workers: WorkerProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(workers.map((w) => w.stop()));
  await realtime.close();
  await db.drop();
});

async function client() {
  const c = await connectClient(realtime.url);
  clients.push(c);
  return c;
}

const start = async (rows: number, cols: number) =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows, cols })).batch;

async function expectFinished(batch: Batch) {
  const stored = await findBatch(db.pool, batch.id);
  expect(stored).toMatchObject({ status: 'completed', done: batch.total, failed: 0 });
  expect(stored?.finishedAt).not.toBeNull();
  expect(stored?.lastWorker).toMatch(/^w-/);
  // pg-boss completes a fetch's jobs just after the transaction that recorded its cells commits, and
  // the batch's queue is deleted soon after it ends: no job is left waiting or in a worker's hands.
  await waitFor(async () => {
    const states = await jobStates(db.pool, batch.id);
    return !states.created && !states.retry && !states.active;
  }, `no job of ${batch.id} left queued or active`);
  return stored!;
}

describe('workers and the live channel', () => {
  it('completes exactly once with three worker processes on a 2,500-cell batch', async () => {
    workers = ['w-1', 'w-2', 'w-3'].map((id) => startWorker(db.url, id, { WORKER_FETCH_SIZE: '100' }));
    const watcher = await client();
    const heard = record(watcher);
    const batch = await start(50, 50);
    const ack = await join(watcher, batch.id);
    expect(ack.ok).toBe(true);
    const snapshot = ack.ok ? ack.cells : [];

    await waitFor(() => heard.completions.length > 0, 'batch:completed', 60_000);
    const stored = await expectFinished(batch);
    await drain(db.pool, watcher, batch.id);

    expect(heard.completions).toHaveLength(1);
    expect(heard.completions[0]).toMatchObject({
      batchId: batch.id,
      status: 'completed',
      total: 2500,
      done: 2500,
      failed: 0,
      lastCell: stored.lastCell,
      lastWorker: stored.lastWorker,
    });
    expect(heard.completions[0].elapsedMs).toBe(Date.parse(stored.finishedAt!) - Date.parse(stored.createdAt));

    // The snapshot and the events together hold every cell, each with its stored colour.
    const cells = new Map(heard.cells);
    for (const c of snapshot) cells.set(`${batch.id}:${c.row}:${c.col}`, c.color);
    const dbCells = await listCells(db.pool, batch.id);
    expect(dbCells).toHaveLength(2500);
    expect(cells.size).toBe(2500);
    for (const c of dbCells) expect(cells.get(`${batch.id}:${c.row}:${c.col}`)).toBe(c.color);
    expect(heard.conflicts).toEqual([]);

    // Several workers took part: the fan-out really fanned out.
    const { rows } = await db.pool.query<{ n: number }>('select count(distinct worker_id)::int as n from cells where batch_id = $1', [
      batch.id,
    ]);
    expect(rows[0].n).toBeGreaterThan(1);
  });

  it('sends a viewer that accepts permessage-deflate under 12 bytes per cell, and one that does not every cell as before', async () => {
    // Each viewer behind its own counting proxy: what the server wrote to it, on the wire.
    const viewer = async (deflate: boolean) => {
      const proxy = await startProxy(Number(new URL(realtime.url).port));
      // Without compression: a v1 client that offers no permessage-deflate.
      const socket = await connectClient(proxy.url, undefined, { compression: deflate });
      clients.push(socket);
      const extensions = (socket.io.engine.transport as unknown as { ws: { extensions: string } }).ws.extensions;
      return { proxy, socket, heard: record(socket), extensions };
    };
    const [compressed, plain] = await Promise.all([viewer(true), viewer(false)]);
    expect(compressed.extensions).toContain('permessage-deflate');
    expect(plain.extensions).toBe('');
    const batch = await start(100, 100);
    for (const v of [compressed, plain]) await join(v.socket, batch.id, v.heard);
    for (const v of [compressed, plain]) await waitFor(() => v.heard.completions.length > 0, 'batch:completed', 60_000);
    for (const v of [compressed, plain]) {
      expect(v.heard.cells.size).toBe(10_000);
      expect(v.heard.conflicts).toEqual([]);
    }
    const perCell = (v: typeof plain) => v.proxy.bytesToClients() / 10_000;
    console.log(
      `bytes per cell on the wire: ${perCell(compressed).toFixed(1)} with permessage-deflate, ${perCell(plain).toFixed(1)} without`,
    );
    expect(perCell(plain)).toBeGreaterThan(30);
    expect(perCell(compressed)).toBeLessThan(12);
    await Promise.all([compressed.proxy.close(), plain.proxy.close()]);
  });

  it('gives a late joiner a snapshot with every cell', async () => {
    const batch = await start(20, 30);
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.status === 'completed', 'the batch to complete');
    const late = await client();
    const ack = await join(late, batch.id);
    if (!ack.ok) throw new Error('join failed');
    expect(ack.batch).toMatchObject({ id: batch.id, status: 'completed', done: 600 });
    const byKey = new Map(ack.cells.map((c) => [`${c.row}:${c.col}`, c.color]));
    const dbCells = await listCells(db.pool, batch.id);
    expect(byKey.size).toBe(600);
    for (const c of dbCells) expect(byKey.get(`${c.row}:${c.col}`)).toBe(c.color);
  });

  it('keeps two concurrent batches apart', async () => {
    const [a, b] = await Promise.all([client(), client()]);
    const heardA = record(a);
    const heardB = record(b);
    const [batchA, batchB] = await Promise.all([start(30, 30), start(25, 40)]);
    // A batch may end before its join is answered (each now has its own queue, taken at once): the
    // join's snapshot then says so, and no completion event is due to that socket.
    await Promise.all([join(a, batchA.id, heardA), join(b, batchB.id, heardB)]);
    await waitFor(() => heardA.ended(batchA.id) && heardB.ended(batchB.id), 'both completions', 60_000);
    await expectFinished(batchA);
    await expectFinished(batchB);
    await Promise.all([drain(db.pool, a, batchA.id), drain(db.pool, b, batchB.id)]);

    expect(heardA.seen.every((e) => e.batchId === batchA.id)).toBe(true);
    expect(heardB.seen.every((e) => e.batchId === batchB.id)).toBe(true);
    // One completion each, of its own batch (none when the join's snapshot already told it; the
    // event may still come if it committed between the join and the snapshot's read).
    for (const [heard, batch] of [
      [heardA, batchA],
      [heardB, batchB],
    ] as const) {
      expect(heard.completions.every((e) => e.batchId === batch.id)).toBe(true);
      expectCompletedOnce(heard, batch.id);
    }
  });

  it('answers a join for an unknown or malformed id with not_found', async () => {
    const c = await client();
    for (const id of ['3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61', 'not-a-uuid', "'; drop table batches; --"]) {
      const ack = await join(c, id);
      expect(ack).toMatchObject({ ok: false, error: { code: 'not_found' } });
    }
  });
});
