import { randomUUID } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { findBatchByIdempotencyKey, insertBatch, lockFanOut } from '../db/batches';
import { holdClient, inTransaction } from '../db/pool';
import { countBatchStarted } from '../telemetry/metrics';
import { ATTR, inSpan, linkToActive, traceParentOf } from '../telemetry/trace';
import type { Batch, BatchInput } from '../types';
import { admitClient, type BatchClient } from './client-limits';
import { withPictureDefaults } from './validate';
import { enqueueChunk, enqueueRest, type FanOutDeps, type FanOutResult, releaseFanOutLock } from './fan-out';

/**
 * Starts a batch: the batch row and its first chunk of jobs commit together, and the answer goes out
 * then, so workers are painting while the rest of the jobs go in, a chunk per transaction, on the
 * same connection (`fanOut` settles when they are all in). That connection holds the batch's fan-out
 * lock throughout; if this process dies, the lock goes with its connection and any web server's
 * resumer finishes the fan-out from the batch's `enqueued` mark. With an idempotency key another
 * batch already holds, that batch is the answer and nothing is written. With a `client` (requests
 * through the API), the batch records its client and owner, and the client's limits are enforced
 * in the same transaction.
 *
 * With tracing on, this is the root span of the batch's trace (linked to the HTTP request's span,
 * if any), and its traceparent is stored on the row for every later span of the batch.
 */
export async function startBatch(
  deps: FanOutDeps,
  input: BatchInput,
  idempotencyKey?: string,
  client?: BatchClient,
): Promise<{ batch: Batch; created: boolean; fanOut?: Promise<FanOutResult> }> {
  const priority = input.priority ?? 0;
  const attributes = { [ATTR.rows]: input.rows, [ATTR.cols]: input.cols, [ATTR.total]: input.rows * input.cols, [ATTR.priority]: priority };
  return inSpan('batch create', ROOT_CONTEXT, { root: true, links: linkToActive(), attributes }, async (span) => {
    const traceParent = traceParentOf(span);
    const id = randomUUID();
    const held = await holdClient(deps.pool);
    let first: { batch: Batch; created: boolean };
    try {
      // Free by construction (the id is new); taken before the row exists, so no resumer can race us.
      await lockFanOut(held.client, id);
      first = await inTransaction(held.client, async (tx) => {
        if (client) {
          const replay = await admitClient(tx, client, idempotencyKey);
          if (replay) return { batch: replay, created: false };
        }
        const deadlineSeconds = input.deadlineSeconds ?? deps.defaultDeadlineSeconds;
        const owner = client ? { clientKey: client.key, ownerSession: client.session } : {};
        const { rows, cols, kind, view, maxIterations, tileSize, workMs } = withPictureDefaults(input);
        const batch = await insertBatch(tx, { id, rows, cols, kind, view, maxIterations, tileSize, workMs, deadlineSeconds, priority, traceParent, idempotencyKey, ...owner });
        if (!batch) {
          const existing = await findBatchByIdempotencyKey(tx, idempotencyKey!);
          if (!existing) throw new Error(`Idempotency key conflict without a batch holding it (key ${JSON.stringify(idempotencyKey)})`);
          return { batch: existing, created: false };
        }
        const enqueued = await enqueueChunk(deps, tx, { ...batch, traceParent }, 0, 0);
        return { batch: { ...batch, enqueued: enqueued! }, created: true };
      });
    } catch (err) {
      await releaseFanOutLock(held, id);
      throw err;
    }
    span.setAttribute(ATTR.batchId, first.batch.id);
    if (!first.created) {
      span.setAttribute(ATTR.replayed, true);
      await releaseFanOutLock(held, id);
      return first;
    }
    countBatchStarted(priority);
    const fanOut = enqueueRest(deps, held.client, { ...first.batch, traceParent }, 1).finally(() => releaseFanOutLock(held, id));
    return { ...first, fanOut };
  });
}
