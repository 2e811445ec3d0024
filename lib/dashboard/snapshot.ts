import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { listBatches, runningLoadByTag } from '../db/batches';
import { readIntake } from '../db/intake';
import { countJobsCapped, type CappedJobCounts } from '../db/jobs';
import { withTransaction } from '../db/pool';
import { readThroughput, readWorkerRates } from '../db/throughput';
import { listRecentWorkers } from '../db/workers';
import { CELL_DEAD_LETTER_QUEUE, listCellQueues } from '../queue/cell-job';
import type { DashboardSnapshot, QueueCounts, QueueGauge } from './types';

export interface SnapshotDeps {
  pool: pg.Pool;
  boss: PgBoss;
  /** A worker not heard from for this long is dead: three missed heartbeats. */
  deadAfterSeconds: number;
}

/** Counted exactly up to here; see QueueGauge. */
export const QUEUE_COUNT_CAP = 10_000;
/** The throughput chart's span. */
export const THROUGHPUT_SECONDS = 300;
/** "Cells/s now" is the mean over this many complete seconds. */
export const RATE_SECONDS = 3;
export const RECENT_BATCHES = 12;

/**
 * Everything the dashboard shows, read from Postgres in one round of small queries; nothing comes
 * from this process's memory, so every web server sends the same picture. Each query reads a
 * bounded number of rows (see README, "Dashboard", for what a tick costs).
 */
export async function readDashboardSnapshot(deps: SnapshotDeps): Promise<DashboardSnapshot> {
  const { pool } = deps;
  // The queue counts cover every batch's queue (a batch's queue goes soon after it ends).
  const cellQueues = await listCellQueues(pool);
  const [counts, intake, workers, rates, batches, throughput, load] = await Promise.all([
    withTransaction(pool, (tx) => countJobsCapped(tx, cellQueues, CELL_DEAD_LETTER_QUEUE, QUEUE_COUNT_CAP)),
    readIntake(pool),
    listRecentWorkers(pool, deps.deadAfterSeconds),
    readWorkerRates(pool, RATE_SECONDS),
    listBatches(pool, RECENT_BATCHES),
    readThroughput(pool, THROUGHPUT_SECONDS),
    runningLoadByTag(pool),
  ]);
  const serving = (tag: string) => workers.filter((w) => w.status === 'alive' && w.desired === 'run' && w.tags.includes(tag)).length;
  return {
    at: throughput.now.toISOString(),
    intake,
    queue: await toQueueCounts(counts, cellQueues, deps.boss),
    tags: load.map((t) => ({ ...t, workers: serving(t.tag) })),
    workers: workers.map((w) => ({
      ...w,
      cellsPerSecond: w.status === 'alive' || w.status === 'paused' || w.status === 'draining' ? (rates.get(w.id) ?? 0) : 0,
    })),
    batches,
    throughput: { end: throughput.end.toISOString(), perSecond: throughput.perSecond },
  };
}

/** Exact counts where they are under the cap; past it, pg-boss's cached figures (read only then). */
async function toQueueCounts(counts: CappedJobCounts, cellQueues: string[], boss: PgBoss): Promise<QueueCounts> {
  const over = Object.values(counts).some((n) => n > QUEUE_COUNT_CAP);
  const cached = over ? await boss.getQueues([...cellQueues, CELL_DEAD_LETTER_QUEUE]).catch(() => []) : [];
  const cells = cached.filter((q) => q.name !== CELL_DEAD_LETTER_QUEUE);
  const cell =
    cells.length > 0
      ? { queuedCount: sum(cells, 'queuedCount'), activeCount: sum(cells, 'activeCount'), failedCount: sum(cells, 'failedCount') }
      : undefined;
  const dead = cached.find((q) => q.name === CELL_DEAD_LETTER_QUEUE);
  const retrying = gauge(counts.retrying, undefined);
  return {
    // pg-boss's queued figure counts retries too.
    queued: gauge(counts.queued, cell && cell.queuedCount - (retrying.kind === 'exact' ? retrying.count : 0)),
    active: gauge(counts.active, cell?.activeCount),
    retrying,
    failed: gauge(counts.failed, cell?.failedCount),
    deadLettered: gauge(counts.deadLettered, dead?.totalCount),
  };
}

function gauge(counted: number, cachedFigure: number | undefined): QueueGauge {
  if (counted <= QUEUE_COUNT_CAP) return { count: counted, kind: 'exact' };
  if (cachedFigure !== undefined && cachedFigure > QUEUE_COUNT_CAP) return { count: cachedFigure, kind: 'estimate' };
  return { count: QUEUE_COUNT_CAP, kind: 'atLeast' };
}

function sum<K extends 'queuedCount' | 'activeCount' | 'failedCount'>(queues: { [k in K]: number }[], key: K): number {
  return queues.reduce((n, q) => n + q[key], 0);
}
