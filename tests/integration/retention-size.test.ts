import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention, startRetentionSweeper } from '../../lib/batches/retention';
import { endBatch, findBatch, insertBatch } from '../../lib/db/batches';
import { withTransaction } from '../../lib/db/pool';
import { storedCells } from '../../lib/db/stored-cells';
import { createLogger } from '../../lib/log';
import { recordCells } from '../../lib/batches/record-cells';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/db';

// Retention's size guard: past RETENTION_MAX_CELLS kept cells, the oldest ended batches go before
// their RETENTION_DAYS, until the rest fit; running batches are never touched.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

/** A rows × 10 batch with every cell recorded (completed), or all but one (still running), ended `hoursAgo`. */
async function batchWithCells(rows: number, finish: boolean, hoursAgo = 0): Promise<string> {
  const batch = (await insertBatch(db.pool, { id: randomUUID(), rows, cols: 10, deadlineSeconds: 600 }))!;
  const cells = Array.from({ length: rows * 10 - (finish ? 0 : 1) }, (_, i) => ({
    batchId: batch.id,
    row: Math.floor(i / 10),
    col: i % 10,
    color: '#123456',
  }));
  await withTransaction(db.pool, async (tx) => recordCells(tx, cells, { boss: await db.boss(), workerId: 'w-1' }));
  await db.pool.query(
    `update batches set created_at = now() - make_interval(hours => $2 + 1), finished_at = case when finished_at is null then null else now() - make_interval(hours => $2) end where id = $1`,
    [batch.id, hoursAgo],
  );
  return batch.id;
}

const cellRows = async () => (await db.pool.query<{ n: number }>('select count(*)::int as n from cells')).rows[0].n;

describe('retention size guard', () => {
  it('deletes the oldest ended batches early until the kept cells fit, never a running one, and logs it', async () => {
    const oldest = await batchWithCells(10, true, 50); // 100 cells, ended 50 h ago
    const older = await batchWithCells(10, true, 40);
    const cancelled = await batchWithCells(5, false, 30); // 49 cells
    await endBatch(db.pool, cancelled, 'cancelled');
    await db.pool.query(`update batches set finished_at = now() - interval '30 hours' where id = $1`, [cancelled]);
    const recent = await batchWithCells(10, true, 1);
    const running = await batchWithCells(20, false); // 199 cells, never deleted
    expect(await storedCells(db.pool)).toBe(100 + 100 + 49 + 100 + 199);

    // Under the limit: nothing early, and the 7-day retention has nothing to do either.
    expect(await applyRetention(db.pool, { days: 7, maxCells: 548 })).toMatchObject({ batches: 0, early: null });

    // 150 cells over: the two oldest ended batches go (100 + 100), the rest stay.
    const lines: string[] = [];
    const log = createLogger({ proc: 'test' }, 'info', (line) => void lines.push(line));
    const stop = startRetentionSweeper(db.pool, { days: 7, maxCells: 398 }, log, 60_000);
    await waitFor(() => lines.some((l) => l.includes('size guard')), 'the size guard to log');
    await stop();
    for (const id of [oldest, older]) expect(await findBatch(db.pool, id)).toBeNull();
    for (const id of [cancelled, recent, running]) expect(await findBatch(db.pool, id)).not.toBeNull();
    expect(await cellRows()).toBe(49 + 100 + 199);
    const logged = JSON.parse(lines.find((l) => l.includes('size guard'))!);
    expect(logged).toMatchObject({ level: 'warn', storedCells: 548, maxCells: 398, batches: 2, cells: 200 });

    // Far over, with only a running batch left besides: every ended batch goes, the running one stays.
    const result = await applyRetention(db.pool, { days: 7, maxCells: 1 });
    expect(result.early).toMatchObject({ batches: 2, cells: 149, storedCells: 348 });
    expect(await findBatch(db.pool, running)).toMatchObject({ status: 'running', done: 199 });
    expect(await cellRows()).toBe(199);
  });
});
