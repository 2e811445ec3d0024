import type { Queue } from 'pg-boss';
import { listQueuesStartingWith } from '../db/jobs';
import type { Sql } from '../db/sql';
import type { BatchKind } from '../types';

/**
 * The cell job's contract, imported by the producer (fan-out) and the worker alike: one job per
 * cell, named by its batch and position, on a pg-boss queue of its batch's own (`cellQueueOf`).
 *
 * A queue per batch is what makes a cancel cheap at any size: pg-boss fetches over one index range
 * per queue, so a batch's jobs never sit in another batch's way, and ending a batch only means that
 * workers stop fetching its queue (they fetch from the running batches' queues, by priority:
 * workers/cell-fetch.ts); the queue and what it still holds are deleted in the background
 * (lib/batches/batch-queues.ts).
 */

/**
 * The two templates a batch's queue takes its options from (retries, expiration, dead letter,
 * deletion), brought up to date with the configuration by every process that prepares the database
 * (lib/queue/boss.ts `ensureQueues`). They hold no jobs, but those a version before queues per batch
 * left there, which workers still take when no batch's queue has any (workers/cell-fetch.ts). `cell`: colour cells, worked a fetch at a
 * time. `cell-slow`: cells whose work takes real time (a picture's tiles, colour cells with simulated
 * work), worked a few at a time and recorded as they finish, so a person watches them land one by
 * one; a fetch of them gets a far longer backstop.
 */
export const CELL_QUEUE = 'cell';
export const SLOW_CELL_QUEUE = 'cell-slow';
export const CELL_DEAD_LETTER_QUEUE = 'cell-dead';

/** What every batch's queue name starts with. */
export const CELL_QUEUE_PREFIX = 'cells-';
const UUID_PATTERN = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const BATCH_QUEUE = new RegExp(`^${CELL_QUEUE_PREFIX}(${UUID_PATTERN})$`, 'i');

/** Whether a batch's cells are slow (see SLOW_CELL_QUEUE). */
export function isSlowBatch(batch: { kind: BatchKind; workMs?: number }): boolean {
  return batch.kind === 'mandelbrot' || (batch.workMs ?? 0) > 0;
}

/** The template a batch's queue is created from. */
export function cellQueueTemplateOf(batch: { kind: BatchKind; workMs?: number }): typeof CELL_QUEUE | typeof SLOW_CELL_QUEUE {
  return isSlowBatch(batch) ? SLOW_CELL_QUEUE : CELL_QUEUE;
}

/** The queue of a batch's cell jobs. (pg-boss refuses dots in queue names.) */
export function cellQueueOf(batchId: string): string {
  return `${CELL_QUEUE_PREFIX}${batchId}`;
}

/** The batch a cell queue belongs to, or null for any other queue. */
export function batchOfCellQueue(queue: string): string | null {
  return BATCH_QUEUE.exec(queue)?.[1] ?? null;
}

export interface CellJobData {
  batchId: string;
  row: number;
  col: number;
}

/** A dead letter we send ourselves when a cell's own work has failed past its retries: with the last error. */
export interface DeadCellJobData extends CellJobData {
  error?: string;
}

/**
 * pg-boss's own retry limit on cell jobs: a safety net, not the cell's retry budget. pg-boss counts
 * every claim of a job, so a job lost to infrastructure (its worker killed or frozen, PostgreSQL
 * restarted, its recording rolled back) spends one too. The budget that matters,
 * `CELL_RETRY_LIMIT`, counts only the attempts whose own work failed, in `cell_work_failures`
 * (workers/fail-attempts.ts). A job claimed this many times more is dead-lettered anyway, so
 * nothing can circle for ever; the batch's deadline comes long before that.
 */
export const LOST_ATTEMPTS_LIMIT = 50;

/**
 * Finished cell jobs (completed, cancelled, failed for good) of the shared queues are deleted this
 * long after they end, at the next retention sweep (`MAINTENANCE_SECONDS`, lib/queue/boss.ts): the
 * cells table is the record. A batch's own queue keeps its finished jobs until the batch ends and
 * the queue goes with them (lib/queue/boss.ts, ensureBatchQueue).
 */
export const FINISHED_CELL_JOB_SECONDS = 60;

/**
 * A batch's cell jobs [from, to) in row-major order, as the fan-out inserts them into the batch's
 * queue. Each carries its batch's priority, for pg-boss's own order within the queue; across
 * batches, workers take the queues in priority order themselves.
 */
export function cellJobs(
  batch: { id: string; cols: number; priority: number },
  from: number,
  to: number,
): { data: CellJobData; priority: number }[] {
  const jobs = new Array<{ data: CellJobData; priority: number }>(to - from);
  for (let i = from; i < to; i++) {
    jobs[i - from] = {
      data: { batchId: batch.id, row: Math.floor(i / batch.cols), col: i % batch.cols },
      priority: batch.priority,
    };
  }
  return jobs;
}

export interface CellQueueSettings {
  /** Retries after a cell's own work failed (`CELL_RETRY_LIMIT`); enforced by the workers, see LOST_ATTEMPTS_LIMIT. */
  retryLimit: number;
  heartbeatSeconds: number;
  cellTimeoutMs: number;
  /** Dead letters and image jobs are deleted after this many days, like our own tables (see lib/batches/retention.ts). */
  retentionDays: number;
}

/** The longest a lease client may hold cells for (CONTRACT.md "Leases": `leaseSeconds` 1..600). */
export const LEASE_SECONDS_MAX = 600;

export function cellQueueOptions(settings: CellQueueSettings): Omit<Queue, 'name'> {
  return {
    // Workers wake on NOTIFY the moment a batch commits instead of waiting for a poll.
    notify: true,
    retryLimit: Math.max(LOST_ATTEMPTS_LIMIT, settings.retryLimit),
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 30,
    // A worker that stops heartbeating (killed, frozen, cut off) loses its claim this fast.
    heartbeatSeconds: settings.heartbeatSeconds,
    // Backstop for a fetched batch as a whole (each cell has its own, shorter limit), and long
    // enough for a lease client's longest lease (its web servers keep the heartbeat meanwhile).
    expireInSeconds: Math.max(Math.ceil(settings.cellTimeoutMs / 1000) + 30, LEASE_SECONDS_MAX + 60),
    deadLetter: CELL_DEAD_LETTER_QUEUE,
    deleteAfterSeconds: FINISHED_CELL_JOB_SECONDS,
  };
}

/**
 * Slow cells take real time: a fetch works its cells a few at a time, each under its own time limit,
 * so the fetch as a whole gets a far longer backstop. A dead worker is still caught by its heartbeat.
 */
export function slowCellQueueOptions(settings: CellQueueSettings): Omit<Queue, 'name'> {
  return { ...cellQueueOptions(settings), expireInSeconds: 3600 };
}

/** Dead letters are recorded once, quickly; they retry on their own if that fails. */
export function deadLetterQueueOptions(settings: CellQueueSettings): Omit<Queue, 'name'> {
  return {
    notify: true,
    retryLimit: 10,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    deleteAfterSeconds: settings.retentionDays * 24 * 60 * 60,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates a job payload as it comes off the queue; a job we cannot read is a bug, not a cell. */
export function parseCellJob(data: unknown): CellJobData {
  const d = data as Partial<CellJobData> | null;
  if (
    !d ||
    typeof d.batchId !== 'string' ||
    !UUID.test(d.batchId) ||
    !Number.isInteger(d.row) ||
    !Number.isInteger(d.col) ||
    (d.row as number) < 0 ||
    (d.col as number) < 0
  ) {
    throw new TypeError(`Cell job payload is malformed: ${JSON.stringify(data)?.slice(0, 200)}`);
  }
  return { batchId: d.batchId, row: d.row as number, col: d.col as number };
}

/** The batches' cell queues that exist now (one per batch whose queue is not yet deleted). */
export async function listCellQueues(sql: Sql): Promise<string[]> {
  return (await listQueuesStartingWith(sql, CELL_QUEUE_PREFIX)).filter((name) => batchOfCellQueue(name) !== null);
}
