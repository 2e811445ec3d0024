import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { type FanOutDeps, resumeFanOuts } from '../../lib/batches/fan-out';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { CELL_QUEUE_PREFIX, cellQueueOf } from '../../lib/queue/cell-job';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, jobStates, type TestDatabase, waitFor } from '../helpers/db';
import { startWebServer, type WorkerProcess } from '../helpers/processes';

let db: TestDatabase;
const servers: WorkerProcess[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await db.drop();
});

async function deps(overrides: Partial<FanOutDeps> = {}): Promise<FanOutDeps> {
  return { pool: db.pool, boss: await db.boss(), chunkSize: 500, defaultDeadlineSeconds: 600, ...overrides };
}

/** The batch's jobs: how many, how many distinct cells, and the largest row and column. */
async function jobsOf(batchId: string) {
  const { rows } = await db.pool.query<{ n: number; distinct_cells: number; max_row: number | null; max_col: number | null }>(
    `select count(*)::int as n,
            count(distinct ((data->>'row')::int, (data->>'col')::int))::int as distinct_cells,
            max((data->>'row')::int) as max_row, max((data->>'col')::int) as max_col
       from pgboss.job where name = $1`,
    [cellQueueOf(batchId)],
  );
  return rows[0];
}

/** A gate a chunk hook can wait on, opened by the test. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('fan-out', () => {
  it('enqueues exactly one job per cell', async () => {
    const { batch, fanOut } = await startBatch(await deps(), { rows: 30, cols: 70 });
    expect(batch).toMatchObject({ rows: 30, cols: 70, total: 2100, done: 0, failed: 0, status: 'running', finishedAt: null });
    expect(await fanOut).toEqual({ enqueued: 2100, outcome: 'all' });
    expect(await jobsOf(batch.id)).toEqual({ n: 2100, distinct_cells: 2100, max_row: 29, max_col: 69 });
    expect(await jobStates(db.pool, batch.id)).toEqual({ created: 2100 });
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ enqueued: 2100 });
  });

  it('answers once the batch row and its first chunk have committed, while the rest is still being enqueued', async () => {
    const held = gate();
    const { batch, created, fanOut } = await startBatch(await deps({ afterChunk: (index) => (index === 2 ? held.opened : undefined) }), {
      rows: 10,
      cols: 300,
    });
    expect(created).toBe(true);
    // Chunks 0 and 1 are in; chunk 2 waits in its transaction, unseen.
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.enqueued === 1000, 'two chunks to commit');
    expect((await jobsOf(batch.id)).n).toBe(1000);
    held.open();
    expect(await fanOut).toEqual({ enqueued: 3000, outcome: 'all' });
    expect(await jobsOf(batch.id)).toMatchObject({ n: 3000, distinct_cells: 3000 });
  });

  it('creates nothing when the first chunk fails', async () => {
    const count = () =>
      db.pool.query<{ batches: number; jobs: number }>(
        `select (select count(*)::int from batches) as batches, (select count(*)::int from pgboss.job where starts_with(name, $1)) as jobs`,
        [CELL_QUEUE_PREFIX],
      );
    const before = (await count()).rows[0];
    const failing = startBatch(
      await deps({
        afterChunk: (index) => {
          if (index === 0) throw new Error('injected failure in the first chunk');
        },
      }),
      { rows: 10, cols: 100 },
    );
    await expect(failing).rejects.toThrow(/injected failure/);
    expect((await count()).rows[0]).toEqual(before);
  });

  it('a fan-out that died half way is resumed from where it stopped, with exactly one job per cell', async () => {
    const { batch, fanOut } = await startBatch(
      await deps({
        chunkSize: 100,
        afterChunk: (index) => {
          if (index === 3) throw new Error('injected failure after 300 of 1000 jobs');
        },
      }),
      { rows: 10, cols: 100, priority: 7 },
    );
    expect(await fanOut).toMatchObject({ enqueued: 300, outcome: 'failed', error: expect.stringMatching(/injected failure/) });
    expect((await jobsOf(batch.id)).n).toBe(300);

    expect(await resumeFanOuts(await deps({ chunkSize: 100 }))).toEqual([batch.id]);
    expect(await jobsOf(batch.id)).toEqual({ n: 1000, distinct_cells: 1000, max_row: 9, max_col: 99 });
    // The resumed chunks carry the batch's priority like the first ones.
    const { rows: priorities } = await db.pool.query(
      `select priority, count(*)::int as n from pgboss.job where name = $1 group by priority`,
      [cellQueueOf(batch.id)],
    );
    expect(priorities).toEqual([{ priority: 7, n: 1000 }]);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ enqueued: 1000, status: 'running' });
    // Nothing left to resume.
    expect(await resumeFanOuts(await deps())).toEqual([]);
  });

  it('never runs two fan-outs of one batch: a resume while it is in flight leaves it alone', async () => {
    const held = gate();
    const { batch, fanOut } = await startBatch(await deps({ afterChunk: (index) => (index === 1 ? held.opened : undefined) }), {
      rows: 4,
      cols: 500,
    });
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.enqueued === 500, 'the first chunk');
    expect(await resumeFanOuts(await deps())).toEqual([]);
    held.open();
    expect(await fanOut).toEqual({ enqueued: 2000, outcome: 'all' });
    expect(await jobsOf(batch.id)).toMatchObject({ n: 2000, distinct_cells: 2000 });
  });

  it('stops enqueueing when its batch is cancelled', async () => {
    const held = gate();
    const { batch, fanOut } = await startBatch(await deps({ afterChunk: (index) => (index === 2 ? held.opened : undefined) }), {
      rows: 10,
      cols: 500,
    });
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.enqueued === 1000, 'two chunks');
    const { jobsCancelled } = await cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id);
    held.open();
    expect(await fanOut).toEqual({ enqueued: 1000, outcome: 'batch ended' });
    // Its queue went with the two chunks' jobs in it; the third chunk's rolled back.
    expect(await jobsCancelled).toBeLessThanOrEqual(1000);
    expect(await jobsOf(batch.id)).toMatchObject({ n: 0 });
    expect(await (await db.boss()).getQueue(cellQueueOf(batch.id))).toBeNull();
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ enqueued: 1000, status: 'cancelled' });
  });

  it('a web server killed mid-fan-out: another one resumes it, and every cell gets exactly one job', { timeout: 120_000 }, async () => {
    const portA = await freePort();
    const a = await startWebServer(db.url, portA, { FANOUT_CHUNK_SIZE: '500' });
    servers.push(a);
    const response = await fetch(`http://127.0.0.1:${portA}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: 300, cols: 300 }),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as { id: string };
    await waitFor(async () => ((await findBatch(db.pool, id))?.enqueued ?? 0) >= 5000, 'the fan-out to be under way');
    a.proc.kill('SIGKILL');
    await a.stop();
    const stoppedAt = (await findBatch(db.pool, id))!.enqueued;
    expect(stoppedAt).toBeLessThan(90_000);

    const b = await startWebServer(db.url, await freePort(), { FANOUT_CHUNK_SIZE: '5000' });
    servers.push(b);
    await waitFor(async () => (await findBatch(db.pool, id))?.enqueued === 90_000, 'the other server to finish the fan-out', 60_000);
    expect(await jobsOf(id)).toEqual({ n: 90_000, distinct_cells: 90_000, max_row: 299, max_col: 299 });
    console.log(`fan-out resumed by a second web server after the first was killed at ${stoppedAt} of 90,000 jobs`);
  });

  it('fans out holding one chunk at a time: what it keeps does not grow with the cells enqueued', { timeout: 120_000 }, async () => {
    // The heap after a full collection, after each chunk: a fan-out that kept what it enqueued (job
    // objects, their JSON) would grow by about a chunk's worth each time, tens of MB over these 40
    // chunks. Collected each time, so garbage not yet collected cannot hide or fake a growth. The
    // million-cell fan-out itself runs in the bench (`npm run bench -- --million`).
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const retained: number[] = [];
    const { batch, fanOut } = await startBatch(
      await deps({
        chunkSize: 5000,
        afterChunk: () => {
          gc();
          retained.push(process.memoryUsage().heapUsed);
        },
      }),
      { rows: 400, cols: 500 },
    );
    expect(batch.total).toBe(200_000);
    expect(await fanOut).toEqual({ enqueued: 200_000, outcome: 'all' });
    expect(await jobStates(db.pool, batch.id)).toEqual({ created: 200_000 });
    expect(retained.length).toBeGreaterThanOrEqual(40);
    // From the second chunk on (the first warms the code and the pools up).
    const growth = Math.max(...retained.slice(1)) - retained[1]!;
    console.log(`fan-out of 200,000 cells: heap after each of ${retained.length} chunks grew by ${(growth / 1e6).toFixed(1)} MB at most`);
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  });
});
