import type { Queue } from 'pg-boss';

/**
 * The cell job's contract, imported by the producer (fan-out) and the worker alike:
 * one job per cell, named by its batch and position.
 */
export const CELL_QUEUE = 'cell';
export const CELL_DEAD_LETTER_QUEUE = 'cell-dead';

export interface CellJobData {
  batchId: string;
  row: number;
  col: number;
}

export const CELL_QUEUE_OPTIONS: Omit<Queue, 'name'> = {
  // Workers wake on NOTIFY the moment a batch commits instead of waiting for a poll.
  notify: true,
  retryLimit: 3,
  retryDelay: 1,
  retryBackoff: true,
  // A cell takes milliseconds; a job still active after this is abandoned and retried.
  expireInSeconds: 30,
  deadLetter: CELL_DEAD_LETTER_QUEUE,
  deleteAfterSeconds: 24 * 60 * 60,
};

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
