import { expect } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import { listCells, listFailedCells } from '../../lib/db/cells';
import type { Batch } from '../../lib/types';
import { jobStates, waitFor, type TestDatabase } from './db';
import { drain, type record, type TestClient } from './realtime';

/**
 * What every fault scenario must leave behind once the batch has ended:
 * - each cell coloured, unless it failed or the batch was cancelled or expired;
 * - the colours clients saw equal the stored ones;
 * - `batch:completed` heard exactly once, matching the stored batch;
 * - no job of the batch still queued or active.
 */
export async function expectBatchSettled(
  db: TestDatabase,
  batchId: string,
  watcher: { socket: TestClient; heard: ReturnType<typeof record> },
  expected: Partial<Pick<Batch, 'status' | 'done' | 'failed'>> = { status: 'completed' },
  options: { seenAll?: boolean } = { seenAll: true },
): Promise<Batch> {
  const { heard } = watcher;
  const batch = await waitFor(
    async () => {
      const b = await findBatch(db.pool, batchId);
      return b && b.status !== 'running' ? b : null;
    },
    `batch ${batchId} to end`,
    90_000,
  );
  expect(batch).toMatchObject(expected);

  const [cells, failed] = await Promise.all([listCells(db.pool, batchId), listFailedCells(db.pool, batchId)]);
  expect(cells.length).toBe(batch.done);
  expect(failed.length).toBe(batch.failed);
  if (batch.status === 'completed') expect(batch.done + batch.failed).toBe(batch.total);

  // Jobs settle a moment after the batch ends (queued ones are cancelled after the status flips).
  await waitFor(async () => {
    const states = await jobStates(db.pool, batchId);
    return !states.created && !states.retry && !states.active;
  }, `no job of batch ${batchId} left queued or active`);

  await waitFor(() => heard.completions.some((c) => c.batchId === batchId), `batch:completed for ${batchId}`);
  await drain(db.pool, watcher.socket, batchId);
  expect(heard.completions.filter((c) => c.batchId === batchId)).toHaveLength(1);
  expect(heard.completions.find((c) => c.batchId === batchId)).toMatchObject({
    status: batch.status,
    done: batch.done,
    failed: batch.failed,
  });

  let unseen = 0;
  for (const cell of cells) {
    const seen = heard.cells.get(`${batchId}:${cell.row}:${cell.col}`);
    if (seen === undefined) unseen++;
    else expect(seen).toBe(cell.color);
  }
  if (options.seenAll) expect(unseen).toBe(0);
  expect(heard.conflicts).toEqual([]);
  return batch;
}

/** Waits until a batch has at least `cells` finished cells: under way, far from done. */
export async function waitUntilUnderWay(db: TestDatabase, batchId: string, cells = 300): Promise<void> {
  await waitFor(async () => {
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from cells where batch_id = $1', [batchId]);
    return rows[0].n > cells;
  }, `batch ${batchId} to be under way`);
}
