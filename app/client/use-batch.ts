'use client';

import { useEffect, useRef, useState } from 'react';
import type { BatchCompletedEvent, CellsColoredEvent, CellsFailedEvent, JoinAck, WorkersStatusEvent } from '@/lib/realtime/events';
import type { Batch, ColoredCell } from '@/lib/types';
import { CellStore } from './cell-store';
import { getSocket } from './socket';

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface BatchView {
  state: 'loading' | 'ready' | 'not_found' | 'error';
  error?: string;
  batch: Batch | null;
  store: CellStore | null;
  /** Distinct painted and failed cells, refreshed a few times a second (not per cell). */
  painted: number;
  failed: number;
  completion: BatchCompletedEvent | null;
  connection: Connection;
  workersAlive: number | null;
}

const COUNT_REFRESH_MS = 150;

/**
 * Follows one batch live: joins its room on every (re)connect and merges the snapshot, applies
 * `cells:*` events to a CellStore, and reconciles with the HTTP API when the completion says cells
 * are missing (events can overtake each other on their way from Postgres).
 */
export function useBatch(batchId: string): BatchView {
  const [view, setView] = useState<BatchView>({
    state: 'loading',
    batch: null,
    store: null,
    painted: 0,
    failed: 0,
    completion: null,
    connection: 'connecting',
    workersAlive: null,
  });
  const storeRef = useRef<CellStore | null>(null);

  useEffect(() => {
    const socket = getSocket();
    let disposed = false;
    storeRef.current = null;
    const update = (patch: Partial<BatchView>) => {
      if (!disposed) setView((v) => ({ ...v, ...patch }));
    };

    const reconcile = async (expectedDone: number) => {
      const store = storeRef.current;
      if (!store || store.painted >= expectedDone) return;
      const response = await fetch(`/api/batches/${batchId}/cells`);
      if (!response.ok) return;
      const body = (await response.json()) as { cells: ColoredCell[] };
      store.applyColored(body.cells);
    };

    const onJoined = (ack: JoinAck) => {
      if (disposed) return;
      if (!ack.ok) {
        update(ack.error.code === 'not_found' ? { state: 'not_found' } : { state: 'error', error: ack.error.message });
        return;
      }
      const { batch } = ack;
      const store = storeRef.current ?? new CellStore(batch.rows, batch.cols);
      storeRef.current = store;
      store.applyColored(ack.cells);
      store.applyFailed(ack.failedCells ?? []);
      update({ state: 'ready', batch, store, painted: store.painted, failed: store.failed });
      if (batch.status !== 'running' && batch.finishedAt) {
        update({ completion: completionFromBatch(batch) });
      }
    };

    const join = () => socket.emit('batch:join', batchId, onJoined);
    const onConnect = () => {
      update({ connection: 'connected' });
      join();
    };
    const onDisconnect = () => update({ connection: socket.active ? 'reconnecting' : 'offline' });
    const onReconnectFailed = () => update({ connection: 'offline' });
    const onColored = (event: CellsColoredEvent) => {
      if (event.batchId === batchId) storeRef.current?.applyColored(event.cells);
    };
    const onFailed = (event: CellsFailedEvent) => {
      if (event.batchId === batchId) storeRef.current?.applyFailed(event.cells);
    };
    const onCompleted = (event: BatchCompletedEvent) => {
      if (event.batchId !== batchId) return;
      setView((v) => ({
        ...v,
        completion: event,
        batch: v.batch ? { ...v.batch, status: event.status, done: event.done, failed: event.failed, lastCell: event.lastCell, lastWorker: event.lastWorker } : v.batch,
      }));
      void reconcile(event.done);
    };
    const onWorkers = (event: WorkersStatusEvent) => update({ workersAlive: event.alive });

    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.io.on('reconnect_failed', onReconnectFailed);
    socket.on('cells:colored', onColored);
    socket.on('cells:failed', onFailed);
    socket.on('batch:completed', onCompleted);
    socket.on('workers:status', onWorkers);
    if (socket.connected) onConnect();

    const counts = setInterval(() => {
      const store = storeRef.current;
      if (!store) return;
      setView((v) => (v.painted === store.painted && v.failed === store.failed ? v : { ...v, painted: store.painted, failed: store.failed }));
    }, COUNT_REFRESH_MS);

    return () => {
      disposed = true;
      clearInterval(counts);
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.io.off('reconnect_failed', onReconnectFailed);
      socket.off('cells:colored', onColored);
      socket.off('cells:failed', onFailed);
      socket.off('batch:completed', onCompleted);
      socket.off('workers:status', onWorkers);
      if (socket.connected) socket.emit('batch:leave', batchId);
    };
  }, [batchId]);

  return view;
}

function completionFromBatch(batch: Batch): BatchCompletedEvent {
  return {
    batchId: batch.id,
    status: batch.status === 'running' ? 'completed' : batch.status,
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    elapsedMs: Date.parse(batch.finishedAt ?? batch.createdAt) - Date.parse(batch.createdAt),
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
  };
}
