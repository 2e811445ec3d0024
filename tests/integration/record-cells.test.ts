import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch, insertBatch } from '../../lib/db/batches';
import { listCells, listFailedCells } from '../../lib/db/cells';
import { withTransaction } from '../../lib/db/pool';
import { recordCells } from '../../workers/record-cells';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
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
  withTransaction(db.pool, (client) => recordCells(client, cells.map((c) => ({ ...c, color })), worker));

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
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ done: 4, status: 'completed', lastCell: { row: 1, col: 1 }, lastWorker: 'w-2' });
  });

  it('handles jobs of several batches fetched together, each on its own counter', async () => {
    const a = await newBatch(1, 2);
    const b = await newBatch(1, 1);
    const result = await record([job(a.id, 0, 0), job(b.id, 0, 0), job(a.id, 0, 1)], 'w-1', '#123456');
    expect(result.completed.sort()).toEqual([a.id, b.id].sort());
    expect(await findBatch(db.pool, a.id)).toMatchObject({ done: 2, status: 'completed' });
    expect(await findBatch(db.pool, b.id)).toMatchObject({ done: 1, status: 'completed' });
  });

  it('counts a failed cell once, and never over a colour', async () => {
    const batch = await newBatch(1, 2);
    const fail = (row: number, col: number, worker: string) =>
      withTransaction(db.pool, (client) => recordCells(client, [{ batchId: batch.id, row, col, error: 'poisoned' }], worker));
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
