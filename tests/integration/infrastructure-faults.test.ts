import { describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { listWorkFailures } from '../../lib/db/cell-work-failures';
import { listFailedCells } from '../../lib/db/cells';
import { CELL_DEAD_LETTER_QUEUE, CELL_QUEUE, cellQueueOf } from '../../lib/queue/cell-job';
import { expectBatchSettled } from '../helpers/batch-checks';
import { waitFor } from '../helpers/db';
import { startWorker, type WorkerProcess } from '../helpers/processes';
import { join } from '../helpers/realtime';
import { useWorkerFixture } from '../helpers/worker-fixture';

// Only a cell's own work spends its retries: attempts lost to infrastructure (here, the worker
// holding the cells SIGKILLed, again and again) are retried without limit, and a cell whose work
// always throws still fails after CELL_RETRY_LIMIT retries. Real worker processes, real PostgreSQL.

// Two retries: under the old rule (every lost attempt counted) three kills would fail every cell.
const RETRIES = 2;
const BASE = { CELL_RETRY_LIMIT: String(RETRIES), NODE_ENV: 'test' };
// A worker that claims the cells and then holds them (each takes ten minutes, well inside its time
// limit), until it is killed. Lost jobs come back one by one (each with its own jittered backoff), so
// it runs a fetch loop for each cell.
const CELLS = 5;
const HOLDS_CELLS = {
  ...BASE,
  WORKER_LOOPS: String(CELLS),
  CELL_TIMEOUT_MS: '600000',
  FINISH_LINE_FAULTS: JSON.stringify({ delayMs: 600_000 }),
};

const f = useWorkerFixture();

function spawnWorker(env: Record<string, string>): WorkerProcess {
  const worker = startWorker(f.db.url, `w-${f.workers.length + 1}`, env);
  f.workers.push(worker);
  return worker;
}

async function start(rows: number, cols: number) {
  const { batch } = await startBatch(
    { pool: f.db.pool, boss: await f.db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 },
    { rows, cols },
  );
  expect((await join(f.socket, batch.id, f.heard)).ok).toBe(true);
  return batch;
}

/** The batch's cell jobs: how many are claimed right now, and the fewest claims any has had before. */
async function claims(batchId: string): Promise<{ active: number; minRetryCount: number }> {
  const { rows } = await f.db.pool.query<{ active: number; min_retry: number }>(
    `select count(*) filter (where state = 'active')::int as active, coalesce(min(retry_count), 0)::int as min_retry
       from pgboss.job where name = $1`,
    [cellQueueOf(batchId)],
  );
  return { active: rows[0].active, minRetryCount: rows[0].min_retry };
}

describe('attempts lost to infrastructure', () => {
  it('five SIGKILLs in a row of the worker holding the same cells: no cell fails, every cell is done', { timeout: 300_000 }, async () => {
    // Lost claims come back after the heartbeat and a supervision pass; without the queue's backoff
    // (2, 4, 8, 16 s … between attempts) five of them in a row take one minute, not two.
    // (The batch's queue takes its options from this template when it is made.)
    await (await f.db.boss()).updateQueue(CELL_QUEUE, { retryBackoff: false, retryDelay: 0 });
    const batch = await start(1, CELLS);
    let holder = spawnWorker(HOLDS_CELLS);
    for (let kill = 1; kill <= 5; kill++) {
      // Every cell claimed by the one live worker, for the kill-th time.
      await waitFor(
        async () => {
          const c = await claims(batch.id);
          return c.active === CELLS && c.minRetryCount === kill - 1;
        },
        `the worker to hold all ${CELLS} cells (claim ${kill})`,
        90_000,
      );
      // The next holder boots while this one still holds the cells; after the fifth kill, a worker
      // that paints.
      const next = spawnWorker(kill < 5 ? HOLDS_CELLS : BASE);
      await holder.stop('SIGKILL');
      holder = next;
    }

    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: CELLS, failed: 0 });
    // Each job was claimed six times (the loop saw the fifth claim of every one): five lost
    // attempts, far past the two retries a cell's work gets. Its queue went with the batch.
    expect(await (await f.db.boss()).getQueue(cellQueueOf(batch.id))).toBeNull();
    expect(await listWorkFailures(f.db.pool, batch.id)).toEqual([]);
    expect(await listFailedCells(f.db.pool, batch.id)).toEqual([]);
  });

  it('a cell whose work throws every time still fails after its retries, and its batch completes', async () => {
    spawnWorker({ ...BASE, CELL_TIMEOUT_MS: '1000', FINISH_LINE_FAULTS: JSON.stringify({ throwAlways: ['0,2'], throwOnce: ['1,1'] }) });
    const batch = await start(4, 5);
    await expectBatchSettled(f.db, batch.id, { socket: f.socket, heard: f.heard }, { status: 'completed', done: 19, failed: 1 });
    expect(await listFailedCells(f.db.pool, batch.id)).toEqual([{ row: 0, col: 2, error: expect.stringMatching(/poisoned/) }]);
    // Its first attempt and each retry failed by its own work; the cell that threw once used one.
    expect(await listWorkFailures(f.db.pool, batch.id)).toEqual([
      { row: 0, col: 2, failures: RETRIES + 1 },
      { row: 1, col: 1, failures: 1 },
    ]);
    const dead = await (await f.db.boss()).findJobs(CELL_DEAD_LETTER_QUEUE, { data: { batchId: batch.id } });
    expect(dead).toHaveLength(1);
    expect(dead[0].data).toMatchObject({ batchId: batch.id, row: 0, col: 2, error: expect.stringMatching(/poisoned/) });
  });
});
