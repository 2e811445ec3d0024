import { describe, expect, it } from 'vitest';
import { completionFromBatch, endReached, withCompletion } from '../../app/client/completion';
import type { BatchCompletedEvent } from '../../lib/realtime/events';
import type { Batch } from '../../lib/types';

const batch: Batch = {
  id: 'b',
  rows: 2,
  cols: 5,
  total: 10,
  done: 4,
  failed: 0,
  status: 'running',
  createdAt: '2026-12-03T10:00:00.000Z',
  finishedAt: null,
  deadlineAt: '2026-12-03T11:00:00.000Z',
  lastCell: null,
  lastWorker: null,
  seq: 7,
  enqueued: 10,
} as Batch;

const completed: BatchCompletedEvent = {
  batchId: 'b',
  status: 'completed',
  total: 10,
  done: 9,
  failed: 1,
  elapsedMs: 2_500,
  lastCell: { row: 1, col: 4 },
  lastWorker: 'w-1',
  seq: 12,
};

describe('the end of a batch, as the follower shows it', () => {
  it('an ended batch read from a join gives the completion it would have announced', () => {
    const ended = { ...batch, status: 'cancelled' as const, done: 6, failed: 1, finishedAt: '2026-12-03T10:00:03.000Z', seq: 9 };
    expect(completionFromBatch(ended)).toEqual({
      batchId: 'b',
      status: 'cancelled',
      total: 10,
      done: 6,
      failed: 1,
      elapsedMs: 3_000,
      lastCell: null,
      lastWorker: null,
      seq: 9,
    });
  });

  it('a completion heard live ends the batch shown, with its counts, time and last cell', () => {
    expect(withCompletion(batch, completed)).toMatchObject({
      status: 'completed',
      done: 9,
      failed: 1,
      finishedAt: '2026-12-03T10:00:02.500Z',
      lastCell: { row: 1, col: 4 },
      lastWorker: 'w-1',
    });
  });

  it('is shown once every event up to the completion is applied, or the finished cells are all here', () => {
    expect(endReached(completed, { applied: 11, finished: 8, loadingCells: false })).toBe(false);
    expect(endReached(completed, { applied: 12, finished: 8, loadingCells: false })).toBe(true);
    expect(endReached(completed, { applied: 11, finished: 9, loadingCells: false })).toBe(true);
  });

  it('waits for a large batch’s cells still on their way over HTTP', () => {
    expect(endReached(completed, { applied: 12, finished: 0, loadingCells: true })).toBe(false);
  });
});
