import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { advanceEnqueued, findBatch, findTraceParents, findUnfinishedFanOuts, lockFanOut, unlockFanOut } from '../db/batches';
import { type HeldClient, holdClient, inTransaction } from '../db/pool';
import { toExecutor } from '../db/sql';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { every } from '../lifecycle';
import { ensureBatchQueue } from '../queue/boss';
import { cellJobs } from '../queue/cell-job';
import { noticeCellsChanged } from '../queue/cell-notices';
import { ATTR, batchContext, failSpan, inSpan } from '../telemetry/trace';
import type { Batch } from '../types';

export interface FanOutDeps {
  /** Short work: the batch row and its first chunk, the resumer's look-ups. */
  pool: pg.Pool;
  /**
   * Connections for the long part of fan-outs (about 48 s for a million cells), kept apart so that
   * fan-outs can never take every connection of `pool`, which answers requests (/healthz included).
   * Small and bounded: a fan-out that finds it full is left to the resumers, never queued. Absent,
   * fan-outs use `pool` and wait for it, as scripts and tests that start batches directly do.
   */
  fanOutPool?: pg.Pool;
  boss: PgBoss;
  chunkSize: number;
  /** Deadline for batches whose input names none. */
  defaultDeadlineSeconds: number;
  /** Test hook: called after each chunk's jobs are inserted, inside its transaction, before it commits. */
  afterChunk?: (chunkIndex: number) => Promise<void> | void;
}

/**
 * How a fan-out ended: every job in, its batch ended first, it failed (and will be resumed), or it
 * was left to the resumers from the start (every fan-out connection was busy).
 */
export interface FanOutResult {
  enqueued: number;
  outcome: 'all' | 'batch ended' | 'failed' | 'deferred';
  error?: string;
}

/** The first chunk commits with the batch row, before the answer: kept small, so that comes fast. */
const FIRST_CHUNK_MAX = 1000;

/** Jobs of the first chunk, the one that commits with the batch row: a batch this size needs no fan-out after it. */
export function firstChunkSize(deps: Pick<FanOutDeps, 'chunkSize'>): number {
  return Math.min(deps.chunkSize, FIRST_CHUNK_MAX);
}

/** What a fan-out needs of its batch; `traceParent` is the batch's stored trace (null when untraced). */
export type FanOutBatch = Pick<Batch, 'id' | 'kind' | 'workMs' | 'cols' | 'total' | 'enqueued' | 'priority'> & {
  traceParent: string | null;
};

/**
 * Inserts the jobs of the batch's cells numbered [from, to) in row-major order into the batch's own
 * queue, then moves the batch's `enqueued` mark from `from` to `to`, in the caller's transaction.
 * Returns the new mark, or null when the mark could not move (the batch has ended) and the caller
 * must roll back. The queue is created first if need be, outside the transaction (pg-boss creates
 * queues on its own connections): a queue left by a transaction that then rolled back holds nothing,
 * and the queue sweep removes it (lib/batches/batch-queues.ts).
 */
export async function enqueueChunk(
  deps: FanOutDeps,
  tx: pg.PoolClient,
  batch: FanOutBatch,
  from: number,
  chunkIndex: number,
): Promise<number | null> {
  const to = Math.min(batch.total, from + (from === 0 ? firstChunkSize(deps) : deps.chunkSize));
  const queue = await ensureBatchQueue(deps.boss, batch);
  await deps.boss.insert(queue, cellJobs(batch, from, to), { db: toExecutor(tx) });
  await noticeCellsChanged(tx, batch.id);
  await deps.afterChunk?.(chunkIndex);
  return (await advanceEnqueued(tx, batch.id, from, to)) ? to : null;
}

/**
 * Enqueues the rest of a batch's jobs, a chunk per transaction, on a client that holds the batch's
 * fan-out lock. Each chunk commits with the move of the batch's mark, so a fan-out cut short at any
 * point leaves the mark exactly at the jobs that are in, and resuming from there enqueues every
 * remaining cell once. Never rejects: a failure is reported in the result.
 */
export async function enqueueRest(
  deps: FanOutDeps,
  client: pg.PoolClient,
  batch: FanOutBatch,
  firstChunkIndex: number,
): Promise<FanOutResult> {
  if (batch.enqueued >= batch.total) return { enqueued: batch.enqueued, outcome: 'all' };
  // The chunks' pg-boss inserts are children of this span, in the batch's trace.
  const attributes = { [ATTR.batchId]: batch.id, [ATTR.total]: batch.total, [ATTR.enqueuedFrom]: batch.enqueued };
  return inSpan('batch fan-out', batchContext(batch.traceParent), { attributes }, async (span) => {
    const result = await enqueueChunks(deps, client, batch, firstChunkIndex);
    span.setAttributes({ [ATTR.enqueuedTo]: result.enqueued, [ATTR.outcome]: result.outcome });
    if (result.error) failSpan(span, result.error);
    return result;
  });
}

async function enqueueChunks(deps: FanOutDeps, client: pg.PoolClient, batch: FanOutBatch, firstChunkIndex: number): Promise<FanOutResult> {
  let enqueued = batch.enqueued;
  let chunkIndex = firstChunkIndex;
  try {
    while (enqueued < batch.total) {
      const from = enqueued;
      const next = await inTransaction(client, async (tx) => {
        const to = await enqueueChunk(deps, tx, batch, from, chunkIndex);
        if (to === null) throw BATCH_ENDED;
        return to;
      });
      enqueued = next;
      chunkIndex++;
    }
    return { enqueued, outcome: 'all' };
  } catch (err) {
    if (err === BATCH_ENDED) return { enqueued, outcome: 'batch ended' };
    return { enqueued, outcome: 'failed', error: errorMessage(err) };
  }
}

const BATCH_ENDED = new Error('the batch ended during its fan-out');

/**
 * Finishes the fan-outs that stopped half way (their process died, or a chunk failed): for each
 * running batch with jobs still to enqueue whose fan-out lock is free, take the lock and enqueue the
 * rest, one after another on a connection of the fan-out pool. Safe to run from any number of
 * processes; returns the batches this call finished.
 */
export async function resumeFanOuts(deps: FanOutDeps): Promise<string[]> {
  const finished: string[] = [];
  for (const id of await findUnfinishedFanOuts(deps.pool, 10)) {
    const held = await holdClient(deps.fanOutPool ?? deps.pool);
    if (!(await lockFanOut(held.client, id).catch(() => false))) {
      held.release();
      continue;
    }
    try {
      const batch = await findBatch(held.client, id);
      if (batch?.status !== 'running' || batch.enqueued >= batch.total) continue;
      const traceParent = (await findTraceParents(held.client, [id])).get(id) ?? null;
      const result = await enqueueRest(deps, held.client, { ...batch, traceParent }, 0);
      if (result.outcome === 'all') finished.push(id);
    } finally {
      await releaseFanOutLock(held, id);
    }
  }
  return finished;
}

/** Gives up a held client's fan-out lock; a client that cannot say so is closed, which also does. */
export async function releaseFanOutLock(held: HeldClient, id: string): Promise<void> {
  try {
    await unlockFanOut(held.client, id);
    held.release();
  } catch (err) {
    held.release(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Runs `resumeFanOuts` every `intervalMs` until the returned stop is called. */
export function startFanOutResumer(deps: FanOutDeps, log: Logger, intervalMs = 2000): () => Promise<void> {
  return every(intervalMs, async () => {
    try {
      for (const batchId of await resumeFanOuts(deps)) log.info('fan-out resumed and finished', { batchId });
    } catch (err) {
      log.warn('fan-out resume failed', { err });
    }
  });
}
