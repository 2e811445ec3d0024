import type { IntakeInfo } from '../db/intake';
import type { WorkerInfo } from '../db/workers';
import type { Batch } from '../types';

/**
 * What the operator dashboard shows, as one snapshot that each web server reads from Postgres and
 * pushes to its own dashboard sockets. Types only: the browser imports them.
 */

// Declared where their rows are read; the page imports every dashboard type from here.
export type { IntakeInfo } from '../db/intake';
export type { WorkerDesired, WorkerInfo, WorkerStatus } from '../db/workers';

export interface DashboardWorker extends WorkerInfo {
  /** Over the last few complete seconds. */
  cellsPerSecond: number;
}

/**
 * One count of the cell queue. Counting stops at a cap, so a tick costs the same however long the
 * queue is. `exact`: the count. `estimate`: past the cap, pg-boss's own figure from its last monitor
 * pass (a few seconds old). `atLeast`: past the cap, with no fresher figure than the cap itself.
 */
export interface QueueGauge {
  count: number;
  kind: 'exact' | 'estimate' | 'atLeast';
}

export interface QueueCounts {
  /** Waiting to be fetched (pg-boss state `created`). */
  queued: QueueGauge;
  /** Fetched by a worker and not yet completed. */
  active: QueueGauge;
  /** Failed an attempt, waiting for their retry. */
  retrying: QueueGauge;
  /** Out of retries (kept until retention). */
  failed: QueueGauge;
  /** Jobs in the dead-letter queue, recorded or still to be. */
  deadLettered: QueueGauge;
}

/** A batch as the dashboard lists it. */
export type DashboardBatch = Batch;

export interface ThroughputSeries {
  /** The end (exclusive) of the last second in `perSecond`, on the database's clock. */
  end: string;
  /** Cells per second, oldest first, one entry per second. */
  perSecond: number[];
}

/** One tag's share of the work: its running batches and the cells they have left. */
export interface TagLoad {
  tag: string;
  batches: number;
  /** Cells of those batches not yet finished or failed (queued, retrying or in a worker's hands). */
  cellsLeft: number;
  /** Live workers (lease clients included) that serve it and take cells. */
  workers: number;
}

export interface DashboardSnapshot {
  /** When it was read, on the database's clock: durations and ages are measured from here. */
  at: string;
  intake: IntakeInfo;
  queue: QueueCounts;
  /** The running batches by tag, and whether a live worker serves each tag. */
  tags: TagLoad[];
  workers: DashboardWorker[];
  batches: DashboardBatch[];
  throughput: ThroughputSeries;
}
