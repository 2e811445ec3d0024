import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endBatch, findBatch, insertBatch } from '../../lib/db/batches';
import { listCells, listFailedCells } from '../../lib/db/cells';
import { withTransaction } from '../../lib/db/pool';
import { recordCells } from '../../lib/batches/record-cells';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/db';
import { randomUUID } from 'node:crypto';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

async function newBatch(rows: number, cols: number) {
  const batch = await insertBatch(db.pool, { id: randomUUID(), rows, cols, deadlineSeconds: 600 });
  if (!batch) throw new Error('batch was not inserted');
  return batch;
}

const job = (batchId: string, row: number, col: number) => ({ batchId, row, col });
const record = (cells: { batchId: string; row: number; col: number }[], worker: string, color: string) =>
  withTransaction(db.pool, async (client) =>
    recordCells(
      client,
      cells.map((c) => ({ ...c, color })),
      { boss: await db.boss(), workerId: worker },
    ),
  );

describe('recording cells (first write wins, counted once)', () => {
  it('keeps the first colour and counts a cell delivered twice once', async () => {
    const batch = await newBatch(1, 2);
    const first = await record([job(batch.id, 0, 0)], 'w-a', '#111111');
    const second = await record([job(batch.id, 0, 0)], 'w-b', '#222222');

    expect(first.colored.get(batch.id)).toEqual([{ row: 0, col: 0, color: '#111111' }]);
    expect(second.colored.size).toBe(0);
    expect(await listCells(db.pool, batch.id)).toEqual([{ row: 0, col: 0, color: '#111111' }]);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 1, status: 'running' });
  });

  it('gives one colour, one count and one completion when many transactions race for the last cell', async () => {
    const batch = await newBatch(1, 1);
    const colors = Array.from({ length: 12 }, (_, i) => `#0000${i.toString(16).toUpperCase().padStart(2, '0')}`);
    const results = await Promise.all(colors.map((color, i) => record([job(batch.id, 0, 0)], `w-${i}`, color)));

    const winners = results.filter((r) => r.colored.size > 0);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.completed.includes(batch.id))).toHaveLength(1);
    const stored = await listCells(db.pool, batch.id);
    expect(stored).toEqual(winners[0].colored.get(batch.id));
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 1, failed: 0, status: 'completed', lastCell: { row: 0, col: 0 } });
  });

  it('completes only when the last cell lands, naming that cell and its worker', async () => {
    const batch = await newBatch(2, 2);
    const early = await record([job(batch.id, 0, 0), job(batch.id, 0, 1), job(batch.id, 1, 0)], 'w-1', '#ABCDEF');
    expect(early.completed).toEqual([]);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 3, status: 'running', finishedAt: null, lastCell: null });

    const last = await record([job(batch.id, 1, 1), job(batch.id, 0, 0)], 'w-2', '#FEDCBA');
    expect(last.completed).toEqual([batch.id]);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({
      done: 4,
      status: 'completed',
      lastCell: { row: 1, col: 1 },
      lastWorker: 'w-2',
    });
  });

  it('handles jobs of several batches fetched together, each on its own counter', async () => {
    const a = await newBatch(1, 2);
    const b = await newBatch(1, 1);
    const result = await record([job(a.id, 0, 0), job(b.id, 0, 0), job(a.id, 0, 1)], 'w-1', '#123456');
    expect(result.completed.sort()).toEqual([a.id, b.id].sort());
    expect(await findBatch(db.pool, a.id)).toMatchObject({ done: 2, status: 'completed' });
    expect(await findBatch(db.pool, b.id)).toMatchObject({ done: 1, status: 'completed' });
  });

  it('takes back the cells of a recording that finds its batch cancelled while it was writing them', async () => {
    const batch = await newBatch(2, 2);
    await record([job(batch.id, 0, 0)], 'w-1', '#010101');
    // A cancel holds the batch's row lock; the recording writes its cells, then waits for the lock.
    const cancel = await db.pool.connect();
    try {
      await cancel.query('begin');
      await endBatch(cancel, batch.id, 'cancelled');
      const recording = record([job(batch.id, 0, 1), job(batch.id, 1, 0), job(batch.id, 1, 1)], 'w-2', '#020202');
      await waitFor(async () => {
        const { rows } = await db.pool.query(
          `select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'update batches%'`,
        );
        return rows.length > 0;
      }, 'the recording to wait for the batch lock');
      await cancel.query('commit');
      const result = await recording;
      expect(result.colored.size).toBe(0);
      expect(result.completed).toEqual([]);
    } finally {
      cancel.release();
    }
    expect(await listCells(db.pool, batch.id)).toEqual([{ row: 0, col: 0, color: '#010101' }]);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 1, status: 'cancelled' });
  });

  it('numbers the events of concurrent recordings 1, 2, 3 … and maps each to exactly its cells', async () => {
    const batch = await newBatch(10, 10);
    const all = Array.from({ length: 100 }, (_, i) => job(batch.id, Math.floor(i / 10), i % 10));
    // Ten recordings of ten cells each, plus duplicates of every cell, all at once.
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, k) => record(all.slice(k * 10, k * 10 + 10), `w-${k}`, '#0A0A0A')),
      ...Array.from({ length: 5 }, (_, k) => record(all.slice(k * 20, k * 20 + 20), `d-${k}`, '#0B0B0B')),
    ]);
    expect(results.reduce((n, r) => n + (r.colored.get(batch.id)?.length ?? 0), 0)).toBe(100);
    const stored = (await findBatch(db.pool, batch.id))!;
    expect(stored).toMatchObject({ done: 100, status: 'completed' });
    const { rows: events } = await db.pool.query<{ seq: string; n: number }>(
      `select e.seq, count(c.*)::int as n from cell_events e join cells c on c.batch_id = e.batch_id and c.recording = e.recording
        where e.batch_id = $1 group by e.seq order by e.seq`,
      [batch.id],
    );
    // Cells events take 1 … k without gaps, the completion takes k + 1, and every cell is in one event.
    expect(events.map((e) => Number(e.seq))).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(stored.seq).toBe(events.length + 1);
    expect(events.reduce((n, e) => n + e.n, 0)).toBe(100);
  });

  it('counts a failed cell once, and never over a colour', async () => {
    const batch = await newBatch(1, 2);
    const fail = (row: number, col: number, worker: string) =>
      withTransaction(db.pool, async (client) =>
        recordCells(client, [{ batchId: batch.id, row, col, error: 'poisoned' }], { boss: await db.boss(), workerId: worker }),
      );
    await record([job(batch.id, 0, 0)], 'w-1', '#00FF00');
    const overColour = await fail(0, 0, 'w-2');
    expect(overColour.failed.size).toBe(0);
    const first = await fail(0, 1, 'w-2');
    const again = await fail(0, 1, 'w-3');
    expect(first.failed.get(batch.id)).toEqual([{ row: 0, col: 1, error: 'poisoned' }]);
    expect(first.completed).toEqual([batch.id]);
    expect(again.failed.size).toBe(0);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 1, failed: 1, status: 'completed' });
    expect(await listFailedCells(db.pool, batch.id)).toEqual([{ row: 0, col: 1, error: 'poisoned' }]);
    expect(await listCells(db.pool, batch.id)).toEqual([{ row: 0, col: 0, color: '#00FF00' }]);
  });
});
