import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import type { Sequenced } from '../../lib/realtime/events';
import { waitUntilUnderWay } from '../helpers/batch-checks';
import { expectConverged, follow } from '../helpers/follower';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { slowCells, startWorker, type WorkerProcess } from '../helpers/processes';
import { startProxy } from '../../scripts/tcp-proxy';
import { connectClient, join, startRealtime, type TestClient } from '../helpers/realtime';

// Sequenced events and catching up: what a viewer holds must converge to what Postgres holds.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let workers: WorkerProcess[] = [];
const sockets: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
});
afterAll(async () => {
  followers.forEach((f) => f.close());
  sockets.forEach((s) => s.disconnect());
  await realtime.close();
  await db.drop();
});

const start = async (rows: number, cols: number) =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows, cols })).batch;

const followers: ReturnType<typeof follow>[] = [];
function follower(batchId: string, url = realtime.url) {
  const f = follow(url, batchId);
  followers.push(f);
  return f;
}

describe('sequenced events and replay', () => {
  it('catches up after its link was cut for 10 s mid-batch (a TCP proxy drops and restores it)', async () => {
    workers.push(startWorker(db.url, 'w-1', slowCells(100)), startWorker(db.url, 'w-2', slowCells(100)));
    const proxy = await startProxy(Number(new URL(realtime.url).port));
    try {
      const batch = await start(40, 50);
      const { follower: f, completions } = follower(batch.id, proxy.url);
      await waitUntilUnderWay(db, batch.id, 200);
      await proxy.cut();
      await waitFor(() => f.view().connection === 'reconnecting', 'the follower to notice the cut');
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const restoredAt = Date.now();
      await proxy.restore();
      await waitFor(() => f.view().connection === 'connected', 'the follower to reconnect', 30_000);
      await expectConverged(db, f, batch.id, completions);
      console.log(`catch-up after a 10 s cut: ${Date.now() - restoredAt} ms from restore to every cell`);
    } finally {
      await proxy.close();
    }
  });

  it('numbers every event of a batch 1, 2, 3 … without gaps; a rejoin with afterSeq returns exactly what came after', async () => {
    workers.push(startWorker(db.url, 'w-1', { WORKER_FETCH_SIZE: '100' }));
    const client: TestClient = await connectClient(realtime.url);
    sockets.push(client);
    const seqs: number[] = [];
    const record = (event: Sequenced & { batchId: string }) => seqs.push(event.seq);
    client.on('cells:colored', record);
    client.on('batch:completed', record);
    const batch = await start(20, 50);
    const first = await join(client, batch.id);
    if (!first.ok) throw new Error('join failed');
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.status === 'completed', 'the batch to complete');
    const stored = (await findBatch(db.pool, batch.id))!;
    await waitFor(() => seqs.includes(stored.seq), 'the completion event');

    // Every number after the join's snapshot arrives, once, in order.
    const expected = Array.from({ length: stored.seq - first.seq }, (_, i) => first.seq + i + 1);
    expect(seqs.filter((s) => s > first.seq)).toEqual(expected);

    const since = await new Promise<import('../../lib/realtime/events').JoinAck>((resolve) =>
      client.emit('batch:join', batch.id, { afterSeq: 3 }, resolve),
    );
    if (!since.ok) throw new Error('rejoin failed');
    const { rows } = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from cells c join cell_events e on e.batch_id = c.batch_id and e.recording = c.recording
        where c.batch_id = $1 and e.seq > 3`,
      [batch.id],
    );
    expect(since).toMatchObject({ afterSeq: 3, seq: stored.seq });
    expect(since.cells).toHaveLength(rows[0].n);
    expect(since.cells.length).toBeLessThan(1000);
  });

  it('converges when the web server loses its LISTEN connection mid-batch', async () => {
    workers.push(startWorker(db.url, 'w-1', slowCells(100)), startWorker(db.url, 'w-2', slowCells(100)));
    const batch = await start(30, 50);
    const { follower: f, completions } = follower(batch.id);
    await waitUntilUnderWay(db, batch.id, 200);
    const { rows } = await db.pool.query<{ killed: boolean }>(
      `select pg_terminate_backend(pid) as killed from pg_stat_activity where application_name = 'finish-line-socket-io' and datname = current_database()`,
    );
    expect(rows.length).toBeGreaterThan(0);
    await expectConverged(db, f, batch.id, completions);
  });

  it('catches up after its own connection was down for seconds mid-batch', async () => {
    workers.push(startWorker(db.url, 'w-1', slowCells(100)), startWorker(db.url, 'w-2', slowCells(100)));
    const batch = await start(30, 50);
    const { socket, follower: f, completions } = follower(batch.id);
    await waitUntilUnderWay(db, batch.id, 200);
    // Off the air while a few hundred cells land, then back: the rejoin asks only for what it missed.
    socket.disconnect();
    const finishedWhenCut = f.view().finished;
    await waitUntilUnderWay(db, batch.id, finishedWhenCut + 400);
    expect(f.view().finished).toBe(finishedWhenCut);
    socket.connect();
    await expectConverged(db, f, batch.id, completions);
  });
});
