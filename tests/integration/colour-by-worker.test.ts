import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch, insertBatch } from '../../lib/db/batches';
import { withTransaction } from '../../lib/db/pool';
import { listOutcomes } from '../../lib/db/cells';
import type { CellsColoredEvent, JoinAck } from '../../lib/realtime/events';
import type { CellWorkers, ColoredCell } from '../../lib/types';
import { waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { expectConverged, follow } from '../helpers/follower';
import { slowCells, startWorker, type WorkerProcess } from '../helpers/processes';
import { startProxy } from '../../scripts/tcp-proxy';
import { connectClient, drain, join, startRealtime, type TestClient } from '../helpers/realtime';
import { recordCells, type CellOutcome } from '../../lib/batches/record-cells';

// Who painted each cell, as the contract extension tells it: `worker` on `cells:colored`, and
// `workers` + `cellWorkers` on the join snapshot (full and after a sequence number).

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let workers: WorkerProcess[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
  // Small fetches, so both workers take part in every batch here.
  workers = ['w-1', 'w-2'].map((id) => startWorker(db.url, id, { WORKER_FETCH_SIZE: '50' }));
});

afterAll(async () => {
  closers.forEach((close) => close());
  await Promise.all(workers.map((w) => w.stop()));
  await realtime.close();
  await db.drop();
});

const start = async (rows: number, cols: number) =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows, cols })).batch;

async function client(): Promise<TestClient> {
  const c = await connectClient(realtime.url);
  closers.push(() => c.disconnect());
  return c;
}

/** Each stored coloured cell's worker, by "row:col". */
async function storedWorkers(batchId: string): Promise<Map<string, string>> {
  const { rows } = await db.pool.query<{ key: string; worker: string }>(
    `select row_no || ':' || col_no as key, worker_id as worker from cells where batch_id = $1 and color is not null`,
    [batchId],
  );
  return new Map(rows.map((r) => [r.key, r.worker]));
}

/** Resolves a CellWorkers list into "row:col" → worker, checking its shape on the way. */
function resolve(cells: ColoredCell[], by: CellWorkers): Map<string, string> {
  expect(by.cellWorkers).toHaveLength(cells.length);
  expect(new Set(by.workers).size).toBe(by.workers.length);
  return new Map(
    cells.map((c, k) => {
      const w = by.cellWorkers[k];
      expect(Number.isInteger(w) && w >= 0 && w < by.workers.length).toBe(true);
      return [`${c.row}:${c.col}`, by.workers[w]];
    }),
  );
}

const rejoin = (socket: TestClient, batchId: string, afterSeq: number) =>
  new Promise<JoinAck>((done) => socket.emit('batch:join', batchId, { afterSeq }, done));

describe('colour by worker: the data', () => {
  it('names the worker on every cells:colored event, and the snapshot maps every cell to its worker; with 2 workers both appear', async () => {
    const watcher = await client();
    const events: CellsColoredEvent[] = [];
    watcher.on('cells:colored', (event) => events.push(event));
    const batch = await start(40, 50);
    const first = await join(watcher, batch.id);
    if (!first.ok) throw new Error('join failed');

    await waitFor(async () => (await findBatch(db.pool, batch.id))?.status === 'completed', 'the batch to complete', 60_000);
    await drain(db.pool, watcher, batch.id);
    const stored = await storedWorkers(batch.id);
    expect(stored.size).toBe(2000);
    expect(new Set(stored.values())).toEqual(new Set(['w-1', 'w-2']));

    // Live: each event is one worker's recording, and names that worker.
    const live = events.filter((e) => e.batchId === batch.id && e.cells.length > 0);
    expect(live.length).toBeGreaterThan(0);
    for (const event of live) {
      expect(event.worker).toMatch(/^w-[12]$/);
      for (const c of event.cells) expect(stored.get(`${c.row}:${c.col}`)).toBe(event.worker);
    }
    expect(new Set(live.map((e) => e.worker))).toEqual(new Set(['w-1', 'w-2']));

    // The join snapshot of the finished batch: both workers, every cell mapped as stored.
    const late = await client();
    const full = await join(late, batch.id);
    if (!full.ok) throw new Error('join failed');
    expect(full.cells).toHaveLength(2000);
    expect(new Set(full.workers)).toEqual(new Set(['w-1', 'w-2']));
    expect(resolve(full.cells, full)).toEqual(stored);

    // A catch-up answer (afterSeq) maps its own cells the same way.
    const since = await rejoin(late, batch.id, 3);
    if (!since.ok) throw new Error('rejoin failed');
    expect(since.cells.length).toBeGreaterThan(0);
    expect(since.cells.length).toBeLessThan(2000);
    for (const [key, worker] of resolve(since.cells, since)) expect(worker).toBe(stored.get(key));
  });

  it('maps only coloured cells: failed cells stay in failedCells, without a worker index', async () => {
    // A batch without jobs: only these recordings touch it.
    const batch = (await insertBatch(db.pool, { id: randomUUID(), rows: 2, cols: 2, deadlineSeconds: 600 }))!;
    const record = (cells: { row: number; col: number; color?: string; error?: string }[], worker: string) =>
      withTransaction(db.pool, async (tx) =>
        recordCells(
          tx,
          cells.map((c) => ({ batchId: batch.id, ...c }) as CellOutcome),
          { boss: await db.boss(), workerId: worker },
        ),
      );
    await record(
      [
        { row: 0, col: 0, color: '#111111' },
        { row: 1, col: 1, color: '#111111' },
      ],
      'w-a',
    );
    await record([{ row: 0, col: 1, color: '#222222' }], 'w-b');
    await record([{ row: 1, col: 0, error: 'boom' }], 'w-dead');

    const outcomes = await listOutcomes(db.pool, batch.id);
    expect(outcomes.failedCells).toEqual([{ row: 1, col: 0, error: 'boom' }]);
    expect(outcomes.workers.sort()).toEqual(['w-a', 'w-b']);
    expect(resolve(outcomes.cells, outcomes)).toEqual(
      new Map([
        ['0:0', 'w-a'],
        ['1:1', 'w-a'],
        ['0:1', 'w-b'],
      ]),
    );
  });

  it("the page's follower attributes every cell to its worker across a cut link and its catch-up rejoin", async () => {
    const slow = ['w-3', 'w-4'].map((id) => startWorker(db.url, id, slowCells(80)));
    await Promise.all(workers.map((w) => w.stop()));
    workers = slow;
    const proxy = await startProxy(Number(new URL(realtime.url).port));
    closers.push(() => void proxy.close());
    const batch = await start(30, 40);
    const f = follow(proxy.url, batch.id);
    closers.push(f.close);
    await waitUntilUnderWay(db, batch.id, 200);
    await waitFor(() => f.follower.view().attributed > 0, 'the follower to attribute its first cells');
    await proxy.cut();
    await waitFor(() => f.follower.view().connection === 'reconnecting', 'the follower to notice the cut');
    const finishedWhenCut = f.follower.view().finished;
    await waitUntilUnderWay(db, batch.id, finishedWhenCut + 300);
    await proxy.restore();
    // expectConverged checks each cell's colour and its worker against Postgres.
    await expectConverged(db, f.follower, batch.id, f.completions);
    const store = f.follower.view().store!;
    expect(new Set(store.workers.names)).toEqual(new Set(['w-3', 'w-4']));
    expect(store.workers.counts.reduce((a, b) => a + b, 0)).toBe(1200);
  });
});
