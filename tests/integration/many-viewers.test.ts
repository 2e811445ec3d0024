import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { expectConverged, follow } from '../helpers/follower';
import { startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, drain, expectCompletedOnce, join, record, startRealtime, type TestClient } from '../helpers/realtime';

// 50 viewers on one batch while 20 batches run at once.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
const workers: WorkerProcess[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
  workers.push(startWorker(db.url, 'w-1', { WORKER_FETCH_SIZE: '200' }), startWorker(db.url, 'w-2', { WORKER_FETCH_SIZE: '200' }));
});
afterAll(async () => {
  closers.forEach((close) => close());
  await Promise.all(workers.map((w) => w.stop()));
  await realtime.close();
  await db.drop();
});

describe('many viewers, many batches', () => {
  it('50 viewers of one batch and a viewer of each of 20 concurrent batches all end with every cell, and no event crosses batches', async () => {
    const deps = { pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 };
    const batches = await Promise.all(Array.from({ length: 20 }, async () => (await startBatch(deps, { rows: 25, cols: 40 })).batch));

    const followers = Array.from({ length: 50 }, () => follow(realtime.url, batches[0].id));
    closers.push(...followers.map((f) => f.close));

    const raws: { socket: TestClient; heard: ReturnType<typeof record>; batchId: string }[] = [];
    for (const batch of batches) {
      let heard!: ReturnType<typeof record>;
      const socket = await connectClient(realtime.url, (s) => (heard = record(s)));
      closers.push(() => socket.disconnect());
      expect((await join(socket, batch.id, heard)).ok).toBe(true);
      raws.push({ socket, heard, batchId: batch.id });
    }

    for (const f of followers) await expectConverged(db, f.follower, batches[0].id, f.completions);
    for (const raw of raws) {
      // Joined one at a time after 50 followers, a batch may have ended before its join: the
      // snapshot then says so instead of an event.
      await waitFor(() => raw.heard.ended(raw.batchId), `the end of ${raw.batchId}`, 60_000);
      await drain(db.pool, raw.socket, raw.batchId);
      expect(raw.heard.seen.every((e) => e.batchId === raw.batchId)).toBe(true);
      expect(raw.heard.completions.every((c) => c.batchId === raw.batchId)).toBe(true);
      expectCompletedOnce(raw.heard, raw.batchId);
      expect(raw.heard.cells.size).toBe(1000);
      expect(raw.heard.conflicts).toEqual([]);
    }
  });
});
