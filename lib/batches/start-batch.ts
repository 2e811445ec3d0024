import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { findBatchByIdempotencyKey, insertBatch, lockFanOut } from '../db/batches';
import { type HeldClient, holdClient, inTransaction, tryHoldClient } from '../db/pool';
import { countBatchStarted } from '../telemetry/metrics';
import { ATTR, inSpan, linkToActive, traceParentOf } from '../telemetry/trace';
import type { Batch, BatchInput } from '../types';
import { assertCapacity } from './capacity';
import { admitClient, type BatchClient, ClientContended, contendedError, precheckClient } from './client-limits';
import { withPictureDefaults } from './validate';
import { enqueueChunk, enqueueRest, type FanOutDeps, type FanOutResult, firstChunkSize, releaseFanOutLock } from './fan-out';
import { queueScheduledStart } from './scheduled-start';

export interface StartBatchDeps extends FanOutDeps {
  /** The global cap on queued and running cells (`MAX_ACTIVE_CELLS`); absent, none (scripts, tests). */
  maxActiveCells?: number;
}

/**
 * How long a creation keeps trying for its client's lock while the same client's other creations
 * hold it (a few tens of milliseconds each), before it answers 429. It waits without a connection.
 */
const CONTENDED_BUDGET_MS = 1000;

/**
 * Starts a batch: the batch row and its first chunk of jobs commit together, and the answer goes out
 * then, so workers are painting while the rest of the jobs go in, a chunk per transaction, on one
 * connection (`fanOut` settles when they are all in). That connection holds the batch's fan-out lock
 * throughout; if this process dies, the lock goes with its connection and any web server's resumer
 * finishes the fan-out from the batch's `enqueued` mark. With an idempotency key another batch
 * already holds, that batch is the answer and nothing is written.
 *
 * With a `client` (requests through the API), the batch records its client and owner, and the
 * client's limits are enforced twice: first without any lock or held connection (`precheckClient`:
 * a client at its limit is refused at once), then under the client's try-lock in the creating
 * transaction. The global cap (`maxActiveCells`) is checked the same two times.
 *
 * Which connection: a batch that fits in its first chunk uses `deps.pool` for that one transaction.
 * A larger one takes a connection of `deps.fanOutPool` if one is free right now and keeps it for the
 * whole fan-out; if none is, the first chunk goes in on `deps.pool` and the resumers do the rest
 * (`outcome: 'deferred'`). So requests never wait for fan-outs, and fan-outs never take the
 * connections requests need.
 *
 * A batch with `startInSeconds` above 0 is stored as `scheduled`, with no jobs: its start job
 * (lib/batches/scheduled-start.ts) commits with the row instead, and the fan-out happens at its
 * start. It still passes every limit now (see assertCapacity).
 *
 * With tracing on, this is the root span of the batch's trace (linked to the HTTP request's span,
 * if any), and its traceparent is stored on the row for every later span of the batch.
 */
export async function startBatch(
  deps: StartBatchDeps,
  input: BatchInput,
  idempotencyKey?: string,
  client?: BatchClient,
): Promise<{ batch: Batch; created: boolean; fanOut?: Promise<FanOutResult> }> {
  const priority = input.priority ?? 0;
  const total = input.rows * input.cols;
  const attributes = { [ATTR.rows]: input.rows, [ATTR.cols]: input.cols, [ATTR.total]: total, [ATTR.priority]: priority };
  return inSpan('batch create', ROOT_CONTEXT, { root: true, links: linkToActive(), attributes }, async (span) => {
    const traceParent = traceParentOf(span);
    let result: { batch: Batch; created: boolean; fanOut?: Promise<FanOutResult> } | null = null;
    if (client) {
      const replay = await precheckClient(deps.pool, client, idempotencyKey);
      if (replay) result = { batch: replay, created: false };
    }
    if (!result && deps.maxActiveCells !== undefined) await assertCapacity(deps.pool, total, deps.maxActiveCells);
    const contendedUntil = Date.now() + CONTENDED_BUDGET_MS;
    while (!result) {
      try {
        result = await createOnce(deps, input, traceParent, idempotencyKey, client);
      } catch (err) {
        if (!(err instanceof ClientContended)) throw err;
        if (Date.now() >= contendedUntil) throw contendedError();
        // Jittered, so the client's parallel creations do not collide again in step.
        await sleep(10 + Math.random() * 40);
      }
    }
    span.setAttribute(ATTR.batchId, result.batch.id);
    if (!result.created) span.setAttribute(ATTR.replayed, true);
    else countBatchStarted(priority);
    return result;
  });
}

/** One try at the creating transaction (see `startBatch`); throws `ClientContended` when the client's lock was taken. */
async function createOnce(
  deps: StartBatchDeps,
  input: BatchInput,
  traceParent: string | null,
  idempotencyKey: string | undefined,
  client: BatchClient | undefined,
): Promise<{ batch: Batch; created: boolean; fanOut?: Promise<FanOutResult> }> {
  const id = randomUUID();
  const later = (input.startInSeconds ?? 0) > 0;
  const { held, fansOutHere } = await connectionFor(deps, later ? 0 : input.rows * input.cols);
  const release = () => (fansOutHere ? releaseFanOutLock(held, id) : held.release());
  let first: { batch: Batch; created: boolean };
  try {
    // Free by construction (the id is new); taken before the row exists, so no resumer can race us.
    if (fansOutHere) await lockFanOut(held.client, id);
    first = await inTransaction(held.client, async (tx) => {
      if (client) {
        const replay = await admitClient(tx, client, idempotencyKey);
        if (replay) return { batch: replay, created: false };
      }
      if (deps.maxActiveCells !== undefined) await assertCapacity(tx, input.rows * input.cols, deps.maxActiveCells);
      const deadlineSeconds = input.deadlineSeconds ?? deps.defaultDeadlineSeconds;
      const owner = client ? { clientKey: client.key, ownerSession: client.session } : {};
      const { rows, cols, kind, view, maxIterations, tileSize, workMs } = withPictureDefaults(input);
      const priority = input.priority ?? 0;
      const batch = await insertBatch(tx, {
        id,
        rows,
        cols,
        kind,
        view,
        maxIterations,
        tileSize,
        workMs,
        deadlineSeconds,
        priority,
        traceParent,
        idempotencyKey,
        startInSeconds: input.startInSeconds,
        schedule: input.schedule,
        tag: input.tag,
        ...owner,
      });
      if (!batch) {
        const existing = await findBatchByIdempotencyKey(tx, idempotencyKey!);
        if (!existing) throw new Error(`Idempotency key conflict without a batch holding it (key ${JSON.stringify(idempotencyKey)})`);
        return { batch: existing, created: false };
      }
      if (batch.status === 'scheduled') {
        await queueScheduledStart(deps.boss, tx, batch);
        return { batch, created: true };
      }
      const enqueued = await enqueueChunk(deps, tx, { ...batch, traceParent }, 0, 0);
      return { batch: { ...batch, enqueued: enqueued! }, created: true };
    });
  } catch (err) {
    await release();
    throw err;
  }
  if (!first.created || first.batch.status === 'scheduled') {
    await release();
    return first;
  }
  if (!fansOutHere) {
    held.release();
    const outcome = first.batch.enqueued >= first.batch.total ? 'all' : 'deferred';
    return { ...first, fanOut: Promise.resolve({ enqueued: first.batch.enqueued, outcome }) };
  }
  const fanOut = enqueueRest(deps, held.client, { ...first.batch, traceParent }, 1).finally(() => releaseFanOutLock(held, id));
  return { ...first, fanOut };
}

/**
 * The connection a creation runs on, and whether it stays for the fan-out (see `startBatch`):
 * only a batch larger than its first chunk needs one that stays.
 */
async function connectionFor(deps: StartBatchDeps, total: number): Promise<{ held: HeldClient; fansOutHere: boolean }> {
  if (total <= firstChunkSize(deps)) return { held: await holdClient(deps.pool), fansOutHere: false };
  if (!deps.fanOutPool) return { held: await holdClient(deps.pool), fansOutHere: true };
  const slot = await tryHoldClient(deps.fanOutPool);
  if (slot) return { held: slot, fansOutHere: true };
  return { held: await holdClient(deps.pool), fansOutHere: false };
}
