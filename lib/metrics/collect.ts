import { summarizeBatches } from '../db/batches';
import { countLiveJobs, LIVE_JOB_STATES } from '../db/jobs';
import type { Sql } from '../db/sql';
import { countLiveWorkers } from '../db/workers';
import { CELL_DEAD_LETTER_QUEUE, CELL_QUEUE, listCellQueues } from '../queue/cell-job';
import { IMAGE_QUEUE } from '../queue/image-job';
import type { BatchStatus } from '../types';
import { processMetrics } from './process-metrics';
import type { MetricFamily } from './prometheus';

const STATUSES: BatchStatus[] = ['scheduled', 'running', 'completed', 'cancelled', 'expired'];
/** The labels of `finishline_queue_jobs`: `cell` counts the jobs of every batch's queue together. */
const QUEUES = [CELL_QUEUE, CELL_DEAD_LETTER_QUEUE, IMAGE_QUEUE];

/**
 * Everything `/metrics` reports. The application's numbers are read from Postgres, so every web
 * server answers the same; the process numbers are the answering server's own. Four cheap reads:
 * pg-boss's list of queues, the batches table (small: retention keeps it so), the live jobs through pg-boss's index of them,
 * and the workers table.
 */
export async function collectMetrics(sql: Sql, workerWindowSeconds: number): Promise<MetricFamily[]> {
  const cellQueues = new Set(await listCellQueues(sql));
  const [batches, jobs, workers] = await Promise.all([
    summarizeBatches(sql),
    countLiveJobs(sql, [...cellQueues, CELL_DEAD_LETTER_QUEUE, IMAGE_QUEUE]),
    countLiveWorkers(sql, workerWindowSeconds),
  ]);
  const byStatus = new Map(batches.map((b) => [b.status, b]));
  const sum = (pick: (b: (typeof batches)[number]) => number) => batches.reduce((n, b) => n + pick(b), 0);
  const running = byStatus.get('running');
  const jobCount = (queue: string, state: string) =>
    jobs.filter((j) => (cellQueues.has(j.queue) ? CELL_QUEUE : j.queue) === queue && j.state === state).reduce((n, j) => n + j.jobs, 0);

  return [
    {
      name: 'finishline_batches',
      help: 'Batches by status (ended batches are kept for RETENTION_DAYS).',
      type: 'gauge',
      samples: STATUSES.map((status) => ({ labels: { status }, value: byStatus.get(status)?.batches ?? 0 })),
    },
    {
      name: 'finishline_cells',
      help: 'Cells with an outcome in the batches kept: finished (done) or failed (retries exhausted).',
      type: 'gauge',
      samples: [
        { labels: { outcome: 'done' }, value: sum((b) => b.done) },
        { labels: { outcome: 'failed' }, value: sum((b) => b.failed) },
      ],
    },
    {
      name: 'finishline_cells_pending',
      help: 'Cells of running batches not finished yet.',
      type: 'gauge',
      samples: [{ value: running ? running.total - running.done - running.failed : 0 }],
    },
    {
      name: 'finishline_queue_jobs',
      help: 'Unfinished pg-boss jobs by queue and state: created (waiting), retry (waiting to retry), active (claimed by a worker), failed.',
      type: 'gauge',
      samples: QUEUES.flatMap((queue) => LIVE_JOB_STATES.map((state) => ({ labels: { queue, state }, value: jobCount(queue, state) }))),
    },
    {
      name: 'finishline_workers_live',
      help: 'Worker processes that sent a heartbeat within three heartbeat intervals.',
      type: 'gauge',
      samples: [{ value: workers }],
    },
    ...processMetrics(),
  ];
}
