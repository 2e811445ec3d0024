import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { startDeadlineSweeper } from '../../lib/batches/expire-batches';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import { cellQueueOf } from '../../lib/queue/cell-job';
import { watchWorkerPresence } from '../../web/realtime/worker-presence';
import type { BatchInput } from '../../lib/types';
import { expectBatchSettled, waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, jobStates, quietLog, waitFor, type TestDatabase } from '../helpers/db';
import { slowCells, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, record, startRealtime, type TestClient } from '../helpers/realtime';

// Deadlines with no worker alive, and cancelling while workers are busy.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let socket: TestClient;
let heard: ReturnType<typeof record>;
const workersAlive: number[] = [];
let stopSweeper: () => Promise<void>;
let stopPresence: () => void;
let workers: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
  stopPresence = watchWorkerPresence(realtime.io, db.pool, quietLog, 1);
  stopSweeper = startDeadlineSweeper({ pool: db.pool, boss: await db.boss() }, quietLog, 200);
  socket = await connectClient(realtime.url, (s) => {
    heard = record(s);
    s.on('workers:status', (event) => workersAlive.push(event.alive));
  });
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
});
afterAll(async () => {
  socket.disconnect();
  await stopSweeper();
  stopPresence();
  await realtime.close();
  await db.drop();
});

async function start(input: BatchInput) {
  const { batch } = await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, input);
  expect((await join(socket, batch.id, heard)).ok).toBe(true);
  return batch;
}

describe('deadlines and cancellation', () => {
  it('expires a batch no worker took before its deadline, once, and late workers paint nothing', async () => {
    await waitFor(() => workersAlive.at(-1) === 0, 'the page to hear that no worker is alive');
    const batch = await start({ rows: 10, cols: 10, deadlineSeconds: 1 });
    const ended = await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'expired', done: 0, failed: 0 });
    expect(Date.parse(ended.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(ended.deadlineAt));
    // Its queue went with its 100 jobs (the sweep that expired it deletes it).
    await waitFor(async () => (await (await db.boss()).getQueue(cellQueueOf(batch.id))) === null, 'the expired batch to lose its queue');
    expect(await jobStates(db.pool, batch.id)).toEqual({});

    // A worker arriving late finds nothing of the expired batch to do.
    workers.push(startWorker(db.url, 'w-late', { WORKER_HEARTBEAT_SECONDS: '1' }));
    await waitFor(() => workersAlive.at(-1) === 1, 'the page to hear that a worker is alive');
    const next = await start({ rows: 5, cols: 5 });
    await expectBatchSettled(db, next.id, { socket, heard }, { status: 'completed', done: 25 });
    expect(await listCells(db.pool, batch.id)).toHaveLength(0);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ status: 'expired', done: 0 });
  });

  it('cancels mid-batch with workers busy: nothing is coloured after the call returns', async () => {
    workers.push(startWorker(db.url, 'w-1', slowCells(100)), startWorker(db.url, 'w-2', slowCells(100)));
    const batch = await start({ rows: 40, cols: 50 });
    await waitUntilUnderWay(db, batch.id, 200);

    const { batch: cancelled, jobsCancelled } = await cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id);
    const atReturn = (await listCells(db.pool, batch.id)).length;
    await jobsCancelled;
    expect(cancelled.done).toBe(atReturn);
    expect(atReturn).toBeLessThan(2000);

    await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'cancelled', done: atReturn });
    // Workers that held claims when the cancel landed have settled them by now; none painted.
    await waitFor(async () => {
      const states = await jobStates(db.pool, batch.id);
      return !states.active && !states.created && !states.retry;
    }, 'every job of the batch to settle');
    expect(await listCells(db.pool, batch.id)).toHaveLength(atReturn);
  });
});
