import type { DashboardSnapshot, IntakeInfo, WorkerInfo } from '../dashboard/types';
import type { Batch, BatchImage, CellPosition, CellWorkers, ColoredCell, EndStatus, ErrorBody, FailedCell } from '../types';

/**
 * The Socket.IO event maps of the public contract, typed once and imported by the server, the
 * worker's emitter, the browser client and the tests.
 */

export const batchRoom = (batchId: string) => `batch:${batchId}`;

/**
 * Extension on every batch event: `seq`, the event's number in its batch's sequence (1, 2, 3 …,
 * no gaps). A client that applied up to N and then sees N+2 knows it missed N+1.
 */
export interface Sequenced {
  seq: number;
}

export interface CellsColoredEvent extends Sequenced {
  batchId: string;
  cells: ColoredCell[];
  /**
   * Extension: the worker that recorded these cells. Each event announces one worker's recording
   * transaction, so the name is said once for all its cells.
   */
  worker?: string;
  /**
   * Extension, pictures only: the cells' tiles as one binary attachment, each tile's tileSize² RGB
   * pixels (row-major) one after another in the order of `cells`. A browser receives an
   * ArrayBuffer, Node a Buffer.
   */
  tiles?: Uint8Array | ArrayBuffer;
}

/** A batch's image is ready (see the contract's Pictures section). */
export interface BatchImageEvent {
  batchId: string;
  image: BatchImage;
}

/**
 * Extension: what the fan-out is doing right now, for the batch page's "what you are seeing" panel.
 * Sent about once a second to a running batch's room (by each web server to its own sockets), and
 * once more when it ends.
 */
export interface BatchActivityEvent {
  batchId: string;
  total: number;
  /** Jobs in the queue: enqueued by the fan-out so far. */
  enqueued: number;
  /** Jobs waiting for a worker: enqueued, not finished and not held by any worker. */
  queued: number;
  /** Cells each worker holds right now (fetched, being worked on, not yet recorded), as it last said. */
  inFlight: { worker: string; cells: number }[];
  /** The tracker's count: cells finished with a colour, and failed for good. */
  done: number;
  failed: number;
}

/**
 * Extension: a scheduled batch has started (`scheduled` → `running`), with the batch as it is now
 * (its `startAt` the actual start, its `deadlineAt` counted from there). Not numbered: it comes
 * before the batch's first numbered event, and a client that misses it learns the status from its
 * next join.
 */
export interface BatchStartedEvent {
  batchId: string;
  batch: Batch;
}

/** Extension: cells whose jobs exhausted their retries. */
export interface CellsFailedEvent extends Sequenced {
  batchId: string;
  cells: FailedCell[];
}

export interface BatchCompletedEvent extends Sequenced {
  batchId: string;
  status: EndStatus;
  total: number;
  done: number;
  failed: number;
  elapsedMs: number;
  /** Extension: the cell that crossed the finish line and the worker that recorded it. */
  lastCell: CellPosition | null;
  lastWorker: string | null;
}

/**
 * `failedCells` is an extension: the snapshot of cells that failed for good. So is `seq` (the
 * batch's latest event number: the snapshot holds everything up to it) and `afterSeq`, echoed when
 * the join asked only for what came after that number. So are `workers` and `cellWorkers`: the
 * worker that recorded each of `cells`, in the compact form of CellWorkers. So is `cellsOmitted`:
 * true when the join's `maxCells` left the finished cells out.
 */
export type JoinAck =
  | ({
      ok: true;
      batch: Batch;
      cells: ColoredCell[];
      failedCells: FailedCell[];
      seq: number;
      afterSeq: number | null;
      cellsOmitted: boolean;
    } & CellWorkers)
  | ({ ok: false } & ErrorBody);

/** Extensions of `batch:join`. */
export interface JoinOptions {
  /** Rejoin with the last event number applied, to receive only what came after it. */
  afterSeq?: number;
  /**
   * Answer with the finished cells only if the batch has at most this many; past it `cells`,
   * `workers` and `cellWorkers` come empty and `cellsOmitted` is true, and the client reads them
   * from `GET …/cells`, which streams. A million cells then never have to fit into one answer.
   */
  maxCells?: number;
}

export type JoinCallback = (response: JoinAck) => void;

/**
 * Extension: how many worker processes are alive, and whether an operator paused intake (workers
 * then take no cell jobs), sent on connect and whenever either changes.
 */
export interface WorkersStatusEvent {
  alive: number;
  intakePaused: boolean;
  /** Extension: the tags that live workers serve, sorted (a batch whose tag is not among them waits). */
  tags?: string[];
}

export interface ServerToClientEvents {
  'workers:status': (event: WorkersStatusEvent) => void;
  'cells:colored': (event: CellsColoredEvent) => void;
  'cells:failed': (event: CellsFailedEvent) => void;
  'batch:completed': (event: BatchCompletedEvent) => void;
  'batch:started': (event: BatchStartedEvent) => void;
  'batch:image': (event: BatchImageEvent) => void;
  'batch:activity': (event: BatchActivityEvent) => void;
}

export interface ClientToServerEvents {
  'batch:join': (batchId: string, optionsOrAck: JoinOptions | JoinCallback, ack?: JoinCallback) => void;
  'batch:leave': (batchId: string) => void;
}

/**
 * Extension: the operator dashboard, on its own namespace. Anyone may connect; an operator (with
 * DASHBOARD_TOKEN set, a handshake carrying it as `auth: { token }`) gets snapshots, anyone else
 * `dashboard:locked`, and each control answers them `forbidden`.
 */
export const DASHBOARD_NAMESPACE = '/dashboard';

export type DashboardAck<T> = ({ ok: true } & T) | ({ ok: false } & ErrorBody);
export type CancelAck = DashboardAck<{ batch: Batch }>;
export type IntakeAck = DashboardAck<{ intake: IntakeInfo }>;
export type WorkerAck = DashboardAck<{ worker: WorkerInfo }>;

export interface DashboardServerToClientEvents {
  /** On connect, then every second while the socket stays, and right after a control acts. */
  'dashboard:snapshot': (snapshot: DashboardSnapshot) => void;
  /** On connect, in place of snapshots, to a socket that is not an operator's: why, code `forbidden`. */
  'dashboard:locked': (reason: ErrorBody) => void;
}

export interface DashboardClientToServerEvents {
  /** Cancels any running batch, as `POST /api/batches/:id/cancel` does. */
  'batch:cancel': (batchId: string, ack: (response: CancelAck) => void) => void;
  /** Every worker stops fetching cell jobs (what it holds finishes) until `intake:resume`. */
  'intake:pause': (ack: (response: IntakeAck) => void) => void;
  'intake:resume': (ack: (response: IntakeAck) => void) => void;
  /** One worker, as `POST /api/workers/:id/pause`, `/resume` and `/drain` do (lib/workers/steer-worker.ts). */
  'worker:pause': (workerId: string, ack: (response: WorkerAck) => void) => void;
  'worker:resume': (workerId: string, ack: (response: WorkerAck) => void) => void;
  'worker:drain': (workerId: string, ack: (response: WorkerAck) => void) => void;
}

export function completedEvent(batch: Batch): BatchCompletedEvent {
  if (batch.status === 'running' || batch.status === 'scheduled' || batch.finishedAt === null) {
    throw new Error(`Batch ${batch.id} is still ${batch.status}; it has no completion event yet.`);
  }
  return {
    batchId: batch.id,
    status: batch.status,
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    // From the start: a batch started later counts from then (0 for one cancelled before it started).
    elapsedMs: Math.max(0, Date.parse(batch.finishedAt) - Date.parse(batch.startAt ?? batch.createdAt)),
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
    seq: batch.seq,
  };
}
