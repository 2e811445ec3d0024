import type { Job, PgBoss, Queue } from 'pg-boss';
import { findLateScheduledBatches, findTraceParents, lockFanOut, markScheduledStarted } from '../db/batches';
import { holdClient, inTransaction } from '../db/pool';
import { type Sql, toExecutor } from '../db/sql';
import { every } from '../lifecycle';
import type { Logger } from '../log';
import { emitInTransaction } from '../realtime/emitter';
import type { Batch } from '../types';
import { enqueueRest, type FanOutDeps, type FanOutResult, releaseFanOutLock } from './fan-out';

/**
 * Batches that start later: the start job each one gets when it is created, and what the web servers
 * do with it. Any web server may take any start job (they hold no state); the guarded status change
 * lets exactly one of them start the batch.
 */
export const BATCH_START_QUEUE = 'batch-start';

interface StartJobData {
  batchId: string;
}

const START_QUEUE_OPTIONS: Omit<Queue, 'name'> = {
  // A start that fails (its web server died, PostgreSQL restarted) is tried again; a second try of
  // a start that went through finds the batch running and does nothing.
  retryLimit: 10,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 30,
  expireInSeconds: 120,
  deleteAfterSeconds: 24 * 3600,
};

/**
 * A start whose job has not run this long after the batch's start time (its job lost, say, or every
 * web server down at that moment) is started by the safety net instead.
 */
const LATE_AFTER_SECONDS = 15;

/** Creates the start queue if it is missing; safe from every web server at once. */
export async function ensureStartQueue(boss: PgBoss): Promise<void> {
  if (await boss.getQueue(BATCH_START_QUEUE)) return;
  await boss.createQueue(BATCH_START_QUEUE, START_QUEUE_OPTIONS).catch((err: unknown) => {
    if (!/already exists/i.test(String((err as Error)?.message))) throw err;
  });
}

/**
 * Sends a scheduled batch's start job in the transaction that creates the batch, so the job exists
 * if and only if the batch does. pg-boss holds it back until the batch's `startAt` (database time
 * both), and the batch id as singleton key keeps it to one job per batch.
 */
export async function queueScheduledStart(boss: PgBoss, tx: Sql, batch: Batch): Promise<void> {
  if (!batch.startAt) throw new Error(`Batch ${batch.id} is scheduled without a start time.`);
  await boss.send(BATCH_START_QUEUE, { batchId: batch.id } satisfies StartJobData, {
    startAfter: new Date(batch.startAt),
    singletonKey: batch.id,
    db: toExecutor(tx),
  });
}

/**
 * Starts a scheduled batch, if it still is one: the guarded `scheduled` → `running` change and its
 * `batch:started` event commit together, then the winner fans the batch out through the resumable
 * fan-out, holding the batch's fan-out lock (taken before the change, so no resumer races it). If
 * this process dies half way, the batch is running with its mark short of its total, and any web
 * server's fan-out resumer finishes it. Null when there was nothing to start (cancelled, or started
 * by another process).
 */
export async function startScheduledBatch(
  deps: FanOutDeps,
  batchId: string,
): Promise<{ batch: Batch; fanOut: Promise<FanOutResult> } | null> {
  const held = await holdClient(deps.fanOutPool ?? deps.pool);
  let locked = false;
  let batch: Batch | null;
  try {
    locked = await lockFanOut(held.client, batchId);
    batch = await inTransaction(held.client, async (tx) => {
      const started = await markScheduledStarted(tx, batchId);
      if (started) await emitInTransaction(tx, batchId, 'batch:started', { batchId, batch: started });
      return started;
    });
  } catch (err) {
    await (locked ? releaseFanOutLock(held, batchId) : Promise.resolve(held.release()));
    throw err;
  }
  if (!batch || !locked) {
    // Not ours to fan out (a lock another process holds can only be a resumer's, which will).
    await (locked ? releaseFanOutLock(held, batchId) : Promise.resolve(held.release()));
    return batch ? { batch, fanOut: Promise.resolve({ enqueued: 0, outcome: 'deferred' }) } : null;
  }
  const started = batch;
  const traceParent = (await findTraceParents(held.client, [batchId]).catch(() => new Map<string, string>())).get(batchId) ?? null;
  const fanOut = enqueueRest(deps, held.client, { ...started, traceParent }, 0).finally(() => releaseFanOutLock(held, batchId));
  return { batch: started, fanOut };
}

/**
 * The web servers' side of the start queue: each takes due start jobs and starts their batches,
 * and a safety net every few seconds starts any batch whose start is well past without its job
 * having run. Returns the step that stops both.
 */
export async function workScheduledStarts(deps: FanOutDeps, log: Logger): Promise<() => Promise<void>> {
  await ensureStartQueue(deps.boss);
  const start = async (batchId: string, via: string) => {
    const result = await startScheduledBatch(deps, batchId);
    if (!result) return;
    log.info('scheduled batch started', { batchId, via, total: result.batch.total });
    void result.fanOut.then((r) => {
      if (r.outcome === 'failed') log.warn('fan-out stopped; it will be resumed', { batchId, ...r });
    });
  };
  const workerId = await deps.boss.work<StartJobData>(
    BATCH_START_QUEUE,
    { pollingIntervalSeconds: 1, batchSize: 5 },
    async (jobs: Job<StartJobData>[]) => {
      for (const job of jobs) await start(String(job.data?.batchId), 'job');
    },
  );
  const stopNet = every(5000, async () => {
    try {
      for (const batchId of await findLateScheduledBatches(deps.pool, LATE_AFTER_SECONDS, 10)) await start(batchId, 'late start');
    } catch (err) {
      log.warn('late start sweep failed', { err });
    }
  });
  return async () => {
    await stopNet();
    await deps.boss.offWork(BATCH_START_QUEUE, { id: workerId }).catch(() => undefined);
  };
}
