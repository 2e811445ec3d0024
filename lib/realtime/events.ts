import type { Batch, BatchStatus, CellPosition, ColoredCell, ErrorBody, FailedCell } from '../types';

/**
 * The Socket.IO event maps of the public contract, typed once and imported by the server, the
 * worker's emitter, the browser client and the tests.
 */

export const batchRoom = (batchId: string) => `batch:${batchId}`;

export interface CellsColoredEvent {
  batchId: string;
  cells: ColoredCell[];
}

/** Extension: cells whose jobs exhausted their retries. */
export interface CellsFailedEvent {
  batchId: string;
  cells: FailedCell[];
}

export interface BatchCompletedEvent {
  batchId: string;
  status: Exclude<BatchStatus, 'running'>;
  total: number;
  done: number;
  failed: number;
  elapsedMs: number;
  /** Extension: the cell that crossed the finish line and the worker that recorded it. */
  lastCell: CellPosition | null;
  lastWorker: string | null;
}

/** `failedCells` is an extension: the snapshot of cells that failed for good. */
export type JoinAck = { ok: true; batch: Batch; cells: ColoredCell[]; failedCells: FailedCell[] } | ({ ok: false } & ErrorBody);

/** Extension: how many worker processes are alive, sent on connect and whenever it changes. */
export interface WorkersStatusEvent {
  alive: number;
}

export interface ServerToClientEvents {
  'workers:status': (event: WorkersStatusEvent) => void;
  'cells:colored': (event: CellsColoredEvent) => void;
  'cells:failed': (event: CellsFailedEvent) => void;
  'batch:completed': (event: BatchCompletedEvent) => void;
}

export interface ClientToServerEvents {
  'batch:join': (batchId: string, ack: (response: JoinAck) => void) => void;
  'batch:leave': (batchId: string) => void;
}

export function completedEvent(batch: Batch): BatchCompletedEvent {
  if (batch.status === 'running' || batch.finishedAt === null) {
    throw new Error(`Batch ${batch.id} is still running; it has no completion event yet.`);
  }
  return {
    batchId: batch.id,
    status: batch.status,
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    elapsedMs: Date.parse(batch.finishedAt) - Date.parse(batch.createdAt),
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
  };
}
