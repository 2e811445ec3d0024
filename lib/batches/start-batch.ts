import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findBatchByIdempotencyKey, insertBatch } from '../db/batches';
import { withTransaction } from '../db/pool';
import { toExecutor } from '../db/sql';
import { CELL_QUEUE, type CellJobData } from '../queue/cell-job';
import type { Batch, BatchInput } from '../types';

export interface FanOutDeps {
  pool: pg.Pool;
  boss: PgBoss;
  chunkSize: number;
  /** Deadline for batches whose input names none. */
  defaultDeadlineSeconds: number;
  /** Test hook: called after each chunk of jobs is inserted, inside the transaction. */
  afterChunk?: (chunkIndex: number) => Promise<void> | void;
}

/**
 * Fans a batch out: the batch row and one pg-boss job per cell commit together in one transaction,
 * or not at all. Jobs are built and inserted a chunk at a time, so memory stays flat however large
 * the grid.
 */
export async function startBatch(
  deps: FanOutDeps,
  input: BatchInput,
  idempotencyKey?: string,
): Promise<{ batch: Batch; created: boolean }> {
  return withTransaction(deps.pool, async (client) => {
    const deadlineSeconds = input.deadlineSeconds ?? deps.defaultDeadlineSeconds;
    const batch = await insertBatch(client, { id: randomUUID(), rows: input.rows, cols: input.cols, deadlineSeconds, idempotencyKey });
    if (!batch) {
      // The key is taken: that batch is the answer, and this transaction has written nothing.
      const existing = await findBatchByIdempotencyKey(client, idempotencyKey!);
      if (!existing) throw new Error(`Idempotency key conflict without a batch holding it (key ${JSON.stringify(idempotencyKey)})`);
      return { batch: existing, created: false };
    }
    const db = toExecutor(client);
    let chunkIndex = 0;
    for (const chunk of cellChunks(batch.id, input, deps.chunkSize)) {
      await deps.boss.insert(CELL_QUEUE, chunk.map((data) => ({ data })), { db });
      await deps.afterChunk?.(chunkIndex++);
    }
    return { batch, created: true };
  });
}

function* cellChunks(batchId: string, { rows, cols }: BatchInput, size: number): Generator<CellJobData[]> {
  let chunk: CellJobData[] = [];
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      chunk.push({ batchId, row, col });
      if (chunk.length === size) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}
