import { io as connect } from 'socket.io-client';
import { expect } from 'vitest';
import { BatchFollower } from '../../app/client/batch-follower';
import type { BrowserSocket } from '../../app/client/socket';
import { findBatch } from '../../lib/db/batches';
import { listOutcomes } from '../../lib/db/cells';
import { waitFor, type TestDatabase } from './db';

/**
 * The page's own follower (app/client/batch-follower.ts) on a real socket.io client in this process.
 * Its HTTP reads go to `apiBase`; without one they fail, as they would from a page offline.
 */
export function follow(url: string, batchId: string, { apiBase = '' } = {}) {
  const socket = connect(url, {
    path: '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1000,
  }) as BrowserSocket;
  const follower = new BatchFollower(batchId, socket, () => undefined, apiBase);
  const stop = follower.start();
  // Completion events heard: a catch-up may deliver the end through a snapshot instead, never twice.
  const completions: number[] = [];
  socket.on('batch:completed', (event) => {
    if (event.batchId === batchId) completions.push(event.seq);
  });
  return {
    socket,
    follower,
    completions,
    close: () => {
      stop();
      socket.disconnect();
    },
  };
}

/**
 * Waits until the follower holds exactly the stored cells, each in its stored colour and attributed
 * to the worker that recorded it, and has seen the batch end; with `completions`, checks the
 * completion event arrived at most once.
 */
export async function expectConverged(
  db: TestDatabase,
  follower: BatchFollower,
  batchId: string,
  completions?: number[],
  timeoutMs = 60_000,
) {
  await waitFor(
    async () => {
      const view = follower.view();
      const stored = await findBatch(db.pool, batchId);
      return view.completion !== null && stored?.status !== 'running' && view.finished === stored?.done;
    },
    `the follower of ${batchId} to hold every cell and the completion`,
    timeoutMs,
  );
  const store = follower.view().store!;
  const { cells, workers, cellWorkers } = await listOutcomes(db.pool, batchId);
  const wrong: string[] = [];
  cells.forEach((cell, k) => {
    const i = cell.row * store.cols + cell.col;
    const worker = workers[cellWorkers[k]];
    if (store.colors[i] !== Number.parseInt(cell.color.slice(1), 16)) wrong.push(`(${cell.row}, ${cell.col}) colour`);
    else if (store.workers.nameOf(i) !== worker) wrong.push(`(${cell.row}, ${cell.col}) by ${store.workers.nameOf(i)}, stored ${worker}`);
  });
  expect(wrong.slice(0, 10)).toEqual([]);
  expect(store.workers.attributed).toBe(cells.length);
  if (completions) expect(completions.length).toBeLessThanOrEqual(1);
}
