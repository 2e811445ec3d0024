import { describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { listCells, listFailedCells } from '../../lib/db/cells';
import { CELL_DEAD_LETTER_QUEUE, cellQueueOf } from '../../lib/queue/cell-job';
import { expectBatchSettled, waitUntilUnderWay } from '../helpers/batch-checks';
import { slowCells, startWorker } from '../helpers/processes';
import { join } from '../helpers/realtime';
import { useWorkerFixture } from '../helpers/worker-fixture';

// Worker faults with real worker processes: throws, poison, hangs, duplicates, SIGKILL, SIGSTOP.

const FAST_FAILURE = { CELL_RETRY_LIMIT: '2', CELL_TIMEOUT_MS: '1000', NODE_ENV: 'test' };

const f = useWorkerFixture();

function startWorkers(n: number, env: Record<string, string>) {
  for (let i = 0; i < n; i++) f.workers.push(startWorker(f.db.url, `w-${f.workers.length + 1}`, { ...FAST_FAILURE, ...env }));
}

async function start(rows: number, cols: number) {
  const { batch } = await startBatch(
    { pool: f.db.pool, boss: await f.db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 },
    { rows, cols },
  );
  const ack = await join(f.socket, batch.id, f.heard);
  expect(ack.ok).toBe(true);
  return batch;
}

describe('worker faults', () => {
  it('retries a cell that throws on its first attempt; the batch completes with every cell', async () => {
    startWorkers(1, { FINISH_LINE_FAULTS: JSON.stringify({ throwOnce: ['1,1', '2,3'] }) });
    const batch = await start(5, 5);
    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 25, failed: 0 });
  });

  it('counts a poison cell as failed, dead-letters it, and still completes the batch', async () => {
    startWorkers(1, { FINISH_LINE_FAULTS: JSON.stringify({ throwAlways: ['0,2'] }) });
    const batch = await start(4, 5);
    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 19, failed: 1 });
    const failed = await listFailedCells(f.db.pool, batch.id);
    expect(failed).toEqual([{ row: 0, col: 2, error: expect.stringMatching(/poisoned/) }]);
    const dead = await (await f.db.boss()).findJobs(CELL_DEAD_LETTER_QUEUE, { data: { batchId: batch.id } });
    expect(dead).toHaveLength(1);
    expect(dead[0].data).toMatchObject({ batchId: batch.id, row: 0, col: 2 });
  });

  it('abandons a hung cell at its time limit and retries it; the late attempt never writes', async () => {
    startWorkers(1, { FINISH_LINE_FAULTS: JSON.stringify({ hangOnce: ['3,3'] }) });
    const started = Date.now();
    const batch = await start(4, 4);
    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 16, failed: 0 });
    // One time limit (1 s) plus a backoff of a few seconds, not the batch-wide expiry.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('counts a cell delivered twice once', async () => {
    const batch = await start(3, 3);
    // Queued before any worker runs, ahead of the batch's own jobs (a higher priority), so they are
    // taken first: its queue is not fetched from once the batch has completed, and goes with it.
    const duplicate = { data: { batchId: batch.id, row: 1, col: 1 }, priority: 1 };
    const ids = await (await f.db.boss()).insert(cellQueueOf(batch.id), [duplicate, duplicate], { returnId: true });
    expect(ids).toHaveLength(2);
    startWorkers(2, {});
    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 9, failed: 0 });
    const cells = await listCells(f.db.pool, batch.id);
    expect(cells.filter((c) => c.row === 1 && c.col === 1)).toHaveLength(1);
  });

  it('loses nothing when a worker is SIGKILLed mid-batch: its claimed cells come back', async () => {
    // Slow cells keep the batch in flight long enough to kill a worker holding claims.
    startWorkers(2, slowCells(150));
    const batch = await start(40, 50);
    await waitUntilUnderWay(f.db, batch.id);
    const killedAt = Date.now();
    await f.workers[0].stop('SIGKILL');
    const settled = await expectBatchSettled(
      f.db,
      batch.id,
      { socket: f.socket, heard: f.heard },
      { status: 'completed', done: 2000, failed: 0 },
    );
    // Bound: heartbeat (10 s) + supervision pass (5 s) + retry backoff + the rest of the work.
    expect(Date.parse(settled.finishedAt!) - killedAt).toBeLessThan(45_000);
  });

  it('a worker frozen (SIGSTOP) and thawed after its cells were redone cannot write stale results', async () => {
    startWorkers(2, slowCells(150));
    const batch = await start(40, 50);
    await waitUntilUnderWay(f.db, batch.id);
    const frozen = f.workers[0];
    frozen.proc.kill('SIGSTOP');
    const settled = await expectBatchSettled(
      f.db,
      batch.id,
      { socket: f.socket, heard: f.heard },
      { status: 'completed', done: 2000, failed: 0 },
    );
    const before = new Map((await listCells(f.db.pool, batch.id)).map((c) => [`${c.row}:${c.col}`, c.color]));

    // The thawed worker alone is left: the next batch waits for it, however long its thaw takes.
    await f.workers[1].stop();
    frozen.proc.kill('SIGCONT');
    // The thawed worker finds its claims gone (or its transaction ended by the server) and rolls
    // back. Once it records cells of a new batch, its stale handlers are behind it.
    const next = await start(20, 20);
    await expectBatchSettled(f.db, next.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 400, failed: 0 });
    const { rows } = await f.db.pool.query<{ n: number }>(`select count(*)::int as n from cells where batch_id = $1 and worker_id = $2`, [
      next.id,
      frozen.id,
    ]);
    expect(rows[0].n).toBe(400);
    const after = await listCells(f.db.pool, batch.id);
    expect(after).toHaveLength(2000);
    for (const c of after) expect(c.color).toBe(before.get(`${c.row}:${c.col}`));
    expect(settled.done).toBe(2000);
    // Two recoveries in a row, each up to heartbeat (10 s) + supervision (5 s) + retry backoff, and
    // up to 15 s more wherever the frozen worker held a lock (its session's idle-in-transaction
    // limit), plus a graceful stop: past the default 90 s on a loaded machine (CI once).
  }, 150_000);
});
