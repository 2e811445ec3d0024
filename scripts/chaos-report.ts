import type pg from 'pg';
import { cellQueueOf } from '../lib/queue/cell-job';
import type { Batch } from '../lib/types';

/** Why a batch has not ended: what an operator would look at first. */
export interface StuckBatch {
  batchId: string;
  status: string;
  total: number;
  done: number;
  failed: number;
  /** Jobs the fan-out has inserted so far, against `total` (a fan-out cut short stops below it). */
  enqueued: number | null;
  /** The batch's pg-boss jobs by state (cell and slow-cell queues). */
  jobs: Record<string, number>;
}

/** The batches among `ids` that have not ended, each with the facts that say why. */
export async function diagnoseStuck(pool: pg.Pool, batches: Batch[]): Promise<StuckBatch[]> {
  const stuck: StuckBatch[] = [];
  for (const batch of batches) {
    const { rows } = await pool.query<{ status: string; total: number; done: number; failed: number; enqueued: number | null }>(
      'select status, total, done, failed, enqueued from batches where id = $1',
      [batch.id],
    );
    const row = rows[0];
    if (row && row.status !== 'running' && row.status !== 'scheduled') continue;
    // Its own queue's jobs (lib/queue/cell-job.ts).
    const { rows: jobs } = await pool.query<{ state: string; n: number }>(
      `select state::text as state, count(*)::int as n from pgboss.job where name = $1 group by state`,
      [cellQueueOf(batch.id)],
    );
    stuck.push({
      batchId: batch.id,
      status: row?.status ?? 'missing',
      total: row?.total ?? batch.total,
      done: row?.done ?? 0,
      failed: row?.failed ?? 0,
      enqueued: row?.enqueued ?? null,
      jobs: Object.fromEntries(jobs.map((j) => [j.state, j.n])),
    });
  }
  return stuck;
}

/** Percentiles of recovery times, in ms. */
export function summarise(values: number[]): { count: number; p50: number | null; p99: number | null; max: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
  return { count: values.length, p50: at(50), p99: at(99), max: at(100) };
}
