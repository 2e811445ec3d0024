import type { Queue } from 'pg-boss';
import type { BatchKind } from '../types';

/**
 * The cell job's contract, imported by the producer (fan-out) and the worker alike:
 * one job per cell, named by its batch and position.
 */
export const CELL_QUEUE = 'cell';
/**
 * Cells whose work takes real time (a picture's tiles, colour cells with simulated work), one job
 * each like any cell, on a queue of their own: workers take a few at a time and record them as they
 * finish, so a person watches them land one by one instead of a thousand at once.
 */
export const SLOW_CELL_QUEUE = 'cell-slow';
export const CELL_DEAD_LETTER_QUEUE = 'cell-dead';

/** The queue a batch's cell jobs go to. */
export function cellQueueOf(batch: { kind: BatchKind; workMs?: number }): typeof CELL_QUEUE | typeof SLOW_CELL_QUEUE {
  return batch.kind === 'mandelbrot' || (batch.workMs ?? 0) > 0 ? SLOW_CELL_QUEUE : CELL_QUEUE;
}

export interface CellJobData {
  batchId: string;
  row: number;
  col: number;
}

export interface CellQueueSettings {
  retryLimit: number;
  heartbeatSeconds: number;
  cellTimeoutMs: number;
  /** Finished jobs are deleted after this many days, like our own tables (see lib/batches/retention.ts). */
  retentionDays: number;
}

export function cellQueueOptions(settings: CellQueueSettings): Omit<Queue, 'name'> {
  return {
    // Workers wake on NOTIFY the moment a batch commits instead of waiting for a poll.
    notify: true,
    retryLimit: settings.retryLimit,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 30,
    // A worker that stops heartbeating (killed, frozen, cut off) loses its claim this fast.
    heartbeatSeconds: settings.heartbeatSeconds,
    // Backstop for a fetched batch as a whole; each cell has its own, shorter limit.
    expireInSeconds: Math.ceil(settings.cellTimeoutMs / 1000) + 30,
    deadLetter: CELL_DEAD_LETTER_QUEUE,
    deleteAfterSeconds: settings.retentionDays * 24 * 60 * 60,
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
