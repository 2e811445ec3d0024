import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellQueueOf } from '../../lib/queue/cell-job';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/db';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

let db: TestDatabase;
let base: string;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  // Small chunks: most of each batch's jobs go in after the answer, through the resumable fan-out.
  processes.push(await startWebServer(db.url, port, { FANOUT_CHUNK_SIZE: '1000' }));
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await db.drop();
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Batch & { error?: { code: string; message: string } } };
}

const get = async (id: string) => (await (await fetch(`${base}/api/batches/${id}`)).json()) as Batch;

async function createFannedOut(body: { rows: number; cols: number; priority?: number }): Promise<Batch> {
  const { status, body: batch } = await post(body);
  expect(status).toBe(201);
  return waitFor(async () => {
    const b = await get(batch.id);
    return b.enqueued === b.total ? b : null;
  }, `every job of the ${body.rows}×${body.cols} batch enqueued`);
}

async function jobPriorities(batchId: string) {
  const { rows } = await db.pool.query<{ priority: number; n: number }>(
    `select priority, count(*)::int as n from pgboss.job where name = $1 group by priority`,
    [cellQueueOf(batchId)],
  );
  return rows;
}

describe('priorities', () => {
  it('takes priority from the body, 0 by default, and rejects anything but an integer from 0 to 100', async () => {
    const plain = await post({ rows: 2, cols: 2, deadlineSeconds: 120 });
    expect(plain.status).toBe(201);
    expect(plain.body.priority).toBe(0);
    // deadlineSeconds still works beside it.
    expect(Date.parse(plain.body.deadlineAt) - Date.parse(plain.body.createdAt)).toBe(120_000);

    for (const priority of [-1, 101, 2.5, '9', null, true]) {
      const bad = await post({ rows: 2, cols: 2, priority });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(/"priority" must be an integer from 0/),
      });
    }

    // The idempotency key returns the first batch, priority and all, and creates nothing more.
    const key = { 'idempotency-key': `prio-${Date.now()}` };
    const first = await post({ rows: 3, cols: 3, priority: 42, deadlineSeconds: 60 }, key);
    const again = await post({ rows: 3, cols: 3, priority: 42, deadlineSeconds: 60 }, key);
    expect([first.status, again.status]).toEqual([201, 200]);
    expect(again.body).toMatchObject({ id: first.body.id, priority: 42 });
    expect(Date.parse(first.body.deadlineAt) - Date.parse(first.body.createdAt)).toBe(60_000);
    expect(await get(first.body.id)).toMatchObject({ priority: 42 });
    expect(await jobPriorities(first.body.id)).toEqual([{ priority: 42, n: 9 }]);
    // Tracing is off by default: no trace context is stored.
    const { rows } = await db.pool.query('select trace_parent from batches where id = $1', [first.body.id]);
    expect(rows).toEqual([{ trace_parent: null }]);
  });

  it('cells of a higher-priority batch overtake the queued cells of a lower one', { timeout: 120_000 }, async () => {
    // Both batches are queued before any worker runs; the high one is created last.
    const low = await createFannedOut({ rows: 100, cols: 100 });
    const high = await createFannedOut({ rows: 10, cols: 30, priority: 50 });
    // Every job carries its batch's priority, the chunks enqueued after the answer included.
    expect(await jobPriorities(low.id)).toEqual([{ priority: 0, n: 10_000 }]);
    expect(await jobPriorities(high.id)).toEqual([{ priority: 50, n: 300 }]);

    // One worker, one loop, small fetches: its fetches run one after another.
    processes.push(startWorker(db.url, 'w-prio', { WORKER_FETCH_SIZE: '20', WORKER_LOOPS: '1' }));

    await waitFor(async () => (await get(high.id)).status === 'completed', 'the high-priority batch to complete', 60_000);
    const lowThen = await get(low.id);
    console.log(`high-priority batch completed with ${lowThen.done} of ${lowThen.total} low-priority cells done`);
    expect(lowThen.total - lowThen.done).toBeGreaterThan(lowThen.total * 0.8);

    // Every high-priority cell was recorded before the first low-priority one: recordings are the
    // worker's transaction ids, which grow with each fetch it records.
    await waitFor(async () => (await get(low.id)).done > 0, 'the low-priority batch to start');
    const { rows } = await db.pool.query<{ last_high: string; first_low: string }>(
      `select (select max(recording) from cells where batch_id = $1) as last_high, (select min(recording) from cells where batch_id = $2) as first_low`,
      [high.id, low.id],
    );
    expect(BigInt(rows[0].last_high)).toBeLessThan(BigInt(rows[0].first_low));

    // And the low one still finishes, every cell once.
    await waitFor(async () => (await get(low.id)).status === 'completed', 'the low-priority batch to complete', 90_000);
    expect(await get(low.id)).toMatchObject({ done: 10_000, failed: 0 });
  });
});
