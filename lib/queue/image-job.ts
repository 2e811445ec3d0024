import type { PgBoss, Queue } from 'pg-boss';
import type { Sql } from '../db/sql';
import { toExecutor } from '../db/sql';
import type { CellQueueSettings } from './cell-job';

/**
 * The image stage's job contract, imported by whoever ends a batch (producer) and by the workers:
 * one job per ended batch, which stitches the batch's cells into its PNG.
 */
export const IMAGE_QUEUE = 'image';

export interface ImageJobData {
  batchId: string;
}

export function imageQueueOptions(settings: CellQueueSettings): Omit<Queue, 'name'> {
  return {
    notify: true,
    // A stitch that fails (its worker killed, PostgreSQL restarted) runs again from the start; it
    // writes in one transaction, so a half-built image never shows.
    retryLimit: 10,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 30,
    heartbeatSeconds: settings.heartbeatSeconds,
    expireInSeconds: 900,
    deleteAfterSeconds: settings.retentionDays * 24 * 60 * 60,
  };
}

/**
 * Queues a batch's image stage inside the transaction that ends the batch, so the job exists if and
 * only if the batch's terminal status commits: exactly once, since only one caller ever wins that
 * guarded change.
 */
export async function queueImageJob(boss: PgBoss, tx: Sql, batchId: string): Promise<void> {
  await boss.send(IMAGE_QUEUE, { batchId } satisfies ImageJobData, { db: toExecutor(tx) });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseImageJob(data: unknown): ImageJobData {
  const d = data as Partial<ImageJobData> | null;
  if (!d || typeof d.batchId !== 'string' || !UUID.test(d.batchId)) {
    throw new TypeError(`Image job payload is malformed: ${JSON.stringify(data)?.slice(0, 200)}`);
  }
  return { batchId: d.batchId };
}
