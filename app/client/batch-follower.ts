import type {
  BatchActivityEvent,
  BatchCompletedEvent,
  BatchImageEvent,
  CellsColoredEvent,
  CellsFailedEvent,
  JoinAck,
  WorkersStatusEvent,
} from '@/lib/realtime/events';
import type { Batch, BatchImage, CellWorkers, ColoredCell, FailedCell } from '@/lib/types';
import { CellStore } from './cell-store';
import type { BrowserSocket } from './socket';
import { TileLoader } from './tile-loader';
import { TileStore } from './tile-store';

export type Connection = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface BatchView {
  state: 'loading' | 'ready' | 'not_found' | 'error';
  error: string | null;
  batch: Batch | null;
  store: CellStore | null;
  /** A picture's tile pixels, beside `store` (null for a colour batch). */
  tiles: TileStore | null;
  /** Tile pixels are on their way over HTTP (see TileLoader). */
  loadingTiles: boolean;
  /** The latest `batch:activity`: what the fan-out is doing right now. */
  activity: BatchActivityEvent | null;
  /** Distinct painted and failed cells, as of the last refresh. */
  painted: number;
  failed: number;
  /** Painted cells whose worker is known. */
  attributed: number;
  /** A large batch's finished cells are on their way over HTTP (see BatchFollower.loadCells). */
  loadingCells: boolean;
  /** The batch's end, published only once the store holds every finished cell (or we tried). */
  completion: BatchCompletedEvent | null;
  connection: Connection;
  workersAlive: number | null;
  /** An operator paused intake on the dashboard: workers take no cell jobs until it is resumed. */
  intakePaused: boolean;
}

/** How long a completion may wait for `cells:colored` events it overtook before asking HTTP. */
const RECONCILE_GRACE_MS = 250;
/** After a join the server could not answer (not a missing batch), try again this much later. */
const JOIN_RETRY_MS = 2_000;
/**
 * A running batch that has been quiet this long gets a catch-up join: the event that would have
 * shown a gap may itself be the one that was lost (the last cells, the completion).
 */
const QUIET_RESYNC_MS = 4_000;
/**
 * How long a gap in the event numbers may stay open before a catch-up join. Events can overtake
 * each other on the way (the Postgres adapter fetches each large payload with a query of its own),
 * so most gaps close by themselves within milliseconds; one still open after this was lost (shed
 * by a server that found us behind, or dropped with a connection).
 */
const GAP_GRACE_MS = 1_000;
/**
 * The most coloured cells a first join takes inline. A bigger batch's cells come from GET …/cells,
 * which the server streams, so it never holds a million of them in one Socket.IO answer.
 */
export const INLINE_CELLS = 50_000;
/**
 * An ended batch whose image has not been announced is asked for over HTTP after this long (and
 * then less and less often): the `batch:image` event may have gone with a dropped connection.
 */
const IMAGE_CHECK_MS = 5_000;
const IMAGE_CHECK_MAX_MS = 60_000;

/** A picture batch, with the parameters its tiles need. */
export function isPicture(batch: Batch): batch is Batch & { tileSize: number } {
  return batch.kind === 'mandelbrot' && typeof batch.tileSize === 'number' && batch.tileSize > 0;
}

/**
 * Follows one batch over the shared socket, outside React: joins its room on every (re)connect and
 * merges the snapshot, applies `cells:*` events to a CellStore, and fills gaps from the HTTP API
 * when the completion counts more cells than arrived — events travel through Postgres from several
 * workers and may overtake each other. `onChange` says "coarse state changed"; counts are read by
 * whoever calls view(), at their own pace.
 */
export class BatchFollower {
  private state: BatchView['state'] = 'loading';
  private error: string | null = null;
  private batch: Batch | null = null;
  private store: CellStore | null = null;
  private tiles: TileStore | null = null;
  private tileLoader: TileLoader | null = null;
  private activity: BatchActivityEvent | null = null;
  /** An image announced before the first snapshot. */
  private pendingImage: BatchImage | null = null;
  /** When to ask for the image of an ended batch (0: not yet scheduled). */
  private imageCheckAt = 0;
  private imageCheckMs = IMAGE_CHECK_MS;
  private connection: Connection;
  private workersAlive: number | null = null;
  private intakePaused = false;
  private completion: BatchCompletedEvent | null = null;
  /** Cells (with their worker) that arrived before the first snapshot told us the grid's size. */
  private pendingColored: { cells: ColoredCell[]; worker?: string; tiles?: ArrayBuffer | Uint8Array }[] = [];
  private pendingFailed: FailedCell[] = [];
  private reconciled = false;
  /** The read of every coloured cell over HTTP, while one is under way (see loadCells). */
  private cellsLoad: Promise<void> | null = null;
  private cellsRetryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The batch's event numbers: every event up to lastSeq is applied; a higher one means a gap. */
  private lastSeq = 0;
  /** Event numbers above lastSeq + 1 that arrived early, until the ones before them fill in. */
  private readonly seenAhead = new Set<number>();
  private gapTimer: ReturnType<typeof setTimeout> | undefined;
  private catchingUp = false;
  private lastEventAt = Date.now();
  private quietTimer: ReturnType<typeof setInterval> | undefined;
  private reconcileTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly aborter = new AbortController();
  private stopped = false;

  constructor(
    private readonly batchId: string,
    private readonly socket: BrowserSocket,
    private readonly onChange: () => void,
    /** Where the HTTP API lives: the page's own origin in a browser. */
    private readonly apiBase = '',
  ) {
    this.connection = socket.connected ? 'connected' : 'connecting';
  }

  view(): BatchView {
    const store = this.store;
    const c = this.completion;
    const settled = c !== null && store !== null && (store.painted >= c.done || this.reconciled);
    return {
      state: this.state,
      error: this.error,
      batch: this.batch,
      store,
      tiles: this.tiles,
      loadingTiles: this.tileLoader?.loading ?? false,
      activity: this.activity,
      painted: store?.painted ?? 0,
      failed: store?.failed ?? 0,
      attributed: store?.workers.attributed ?? 0,
      loadingCells: this.cellsLoad !== null,
      completion: settled ? c : null,
      connection: this.connection,
      workersAlive: this.workersAlive,
      intakePaused: this.intakePaused,
    };
  }

  /** Starts listening; the returned function removes every listener and leaves the room. */
  start(): () => void {
    const { socket } = this;
    socket.on('connect', this.onConnect);
    socket.on('disconnect', this.onDisconnect);
    socket.on('connect_error', this.onDisconnect);
    socket.on('cells:colored', this.onColored);
    socket.on('cells:failed', this.onFailed);
    socket.on('batch:completed', this.onCompleted);
    socket.on('batch:image', this.onImage);
    socket.on('batch:activity', this.onActivity);
    socket.on('workers:status', this.onWorkers);
    if (socket.connected) this.onConnect();
    this.quietTimer = setInterval(this.onTick, QUIET_RESYNC_MS / 2);
    return () => {
      this.stopped = true;
      this.aborter.abort();
      clearInterval(this.quietTimer);
      clearTimeout(this.reconcileTimer);
      clearTimeout(this.retryTimer);
      clearTimeout(this.cellsRetryTimer);
      clearTimeout(this.gapTimer);
      socket.off('connect', this.onConnect);
      socket.off('disconnect', this.onDisconnect);
      socket.off('connect_error', this.onDisconnect);
      socket.off('cells:colored', this.onColored);
      socket.off('cells:failed', this.onFailed);
      socket.off('batch:completed', this.onCompleted);
      socket.off('batch:image', this.onImage);
      socket.off('batch:activity', this.onActivity);
      socket.off('workers:status', this.onWorkers);
      // A disconnected socket would buffer the leave and send it after reconnecting, when the
      // server has long forgotten the old connection's rooms.
      if (socket.connected) socket.emit('batch:leave', this.batchId);
    };
  }

  private readonly onConnect = () => {
    this.connection = 'connected';
    this.onChange();
    this.join();
  };

  private readonly onDisconnect = () => {
    // `active` means socket.io will keep trying; false only after a deliberate disconnect.
    this.connection = this.socket.active ? 'reconnecting' : 'offline';
    this.onChange();
  };

  /**
   * Joins the room: a full snapshot the first time (a large batch's coloured cells then come over
   * HTTP, see loadCells), afterwards only what came after lastSeq.
   */
  private join() {
    clearTimeout(this.retryTimer);
    this.catchingUp = this.store !== null;
    const options = this.store ? { afterSeq: this.lastSeq } : { maxCells: INLINE_CELLS };
    this.socket.emit('batch:join', this.batchId, options, this.onJoined);
  }

  /**
   * Notes an event's number. One that skips ahead waits for those before it; if they have not come
   * within GAP_GRACE_MS, they were lost and a catch-up join fetches them. Rejoining on every
   * overtaken event instead would loop: the answer ends at the batch's seq when the server read it,
   * events past that one have already arrived, so the next event would look like a gap again.
   */
  private track(seq: number) {
    this.lastEventAt = Date.now();
    if (seq <= this.lastSeq) return;
    this.seenAhead.add(seq);
    this.advanceSeq();
  }

  /** Moves lastSeq through every number now held in a row, and watches any gap left after it. */
  private advanceSeq() {
    for (const seq of this.seenAhead) if (seq <= this.lastSeq) this.seenAhead.delete(seq);
    while (this.seenAhead.delete(this.lastSeq + 1)) this.lastSeq++;
    if (this.seenAhead.size > 0) this.watchGap();
  }

  private watchGap() {
    if (this.gapTimer !== undefined) return;
    const missing = this.lastSeq + 1;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      if (this.stopped) return;
      // A join already on its way (or the next connect's) answers with everything after lastSeq.
      if (this.lastSeq < missing && this.store && !this.catchingUp && this.socket.connected) this.join();
      else if (this.seenAhead.size > 0) this.watchGap();
    }, GAP_GRACE_MS);
  }

  /** Every couple of seconds: a catch-up join if a running batch went quiet, and the safety nets. */
  private readonly onTick = () => {
    const running = this.batch?.status === 'running' && !this.completion;
    if (running && this.store && !this.catchingUp && this.socket.connected && Date.now() - this.lastEventAt > QUIET_RESYNC_MS) {
      this.lastEventAt = Date.now();
      this.join();
    }
    if (this.store && !this.cellsLoad) this.tileLoader?.check(this.store);
    if (this.batch && !running && !this.batch.image) {
      if (this.imageCheckAt === 0) this.imageCheckAt = Date.now() + IMAGE_CHECK_MS;
      else if (Date.now() >= this.imageCheckAt) void this.checkImage();
    }
  };

  private readonly onJoined = (ack: JoinAck) => {
    if (this.stopped) return;
    this.catchingUp = false;
    if (!ack.ok) {
      if (ack.error.code === 'not_found') {
        this.state = 'not_found';
      } else {
        if (this.state !== 'ready') this.state = 'error';
        this.error = ack.error.message;
        this.retryTimer = setTimeout(() => this.socket.connected && this.join(), JOIN_RETRY_MS);
      }
      this.onChange();
      return;
    }
    const batch = { ...ack.batch, image: ack.batch.image ?? this.batch?.image ?? this.pendingImage ?? null };
    if (!this.store || this.store.rows !== batch.rows || this.store.cols !== batch.cols) {
      this.store = new CellStore(batch.rows, batch.cols);
      this.tiles = isPicture(batch) ? new TileStore(batch.rows, batch.cols, batch.tileSize) : null;
      this.tileLoader = this.tiles ? new TileLoader(this.batchId, this.tiles, this.aborter.signal, this.onChange, this.apiBase) : null;
    }
    this.store.applyColored(ack.cells, ack);
    this.store.applyFailed(ack.failedCells ?? []);
    if (ack.cellsOmitted) this.loadCells();
    // The snapshot's cells come without pixels: a first join reads every recorded tile, a catch-up
    // join those announced after the event it started from. Events bring their own tiles inline.
    if (this.tileLoader && (ack.cells.length > 0 || ack.cellsOmitted)) this.tileLoader.request(ack.afterSeq ?? 0);
    for (const event of this.pendingColored) this.applyColored(this.store, event);
    this.store.applyFailed(this.pendingFailed);
    this.pendingColored = [];
    this.pendingFailed = [];
    // The answer holds every cell up to ack.seq.
    this.lastSeq = Math.max(this.lastSeq, ack.seq);
    this.advanceSeq();
    this.lastEventAt = Date.now();
    if (!this.completion && batch.status !== 'running') this.completion = completionFromBatch(batch);
    this.batch = this.completion ? withCompletion(batch, this.completion) : batch;
    this.state = 'ready';
    this.error = null;
    this.onChange();
    if (this.completion) this.scheduleReconcile();
  };

  private readonly onColored = (event: CellsColoredEvent) => {
    if (event.batchId !== this.batchId) return;
    this.track(event.seq);
    if (!this.store) {
      this.pendingColored.push({ cells: event.cells, worker: event.worker, tiles: event.tiles });
      return;
    }
    const before = this.store.painted;
    this.applyColored(this.store, event);
    // The last cells of a batch whose completion overtook them: show the banner now, not on the next tick.
    const c = this.completion;
    if (c && before < c.done && this.store.painted >= c.done) this.onChange();
  };

  /**
   * A `cells:colored` event's cells into the store, and a picture's tiles beside them: one binary
   * attachment holding each cell's pixels in the order of `cells`.
   */
  private applyColored(store: CellStore, event: { cells: ColoredCell[]; worker?: string; tiles?: ArrayBuffer | Uint8Array }) {
    store.applyColored(event.cells, event.worker);
    const { tiles } = this;
    const raw = event.tiles;
    if (!tiles || !(raw instanceof ArrayBuffer || ArrayBuffer.isView(raw))) return;
    const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = tiles.tileBytes;
    if (bytes.length !== size * event.cells.length) return;
    for (let k = 0; k < event.cells.length; k++)
      tiles.put(event.cells[k].row, event.cells[k].col, bytes.subarray(k * size, (k + 1) * size));
  }

  private readonly onImage = (event: BatchImageEvent) => {
    if (event.batchId !== this.batchId || !event.image) return;
    if (this.batch) this.batch = { ...this.batch, image: event.image };
    else this.pendingImage = event.image;
    this.onChange();
  };

  private readonly onActivity = (event: BatchActivityEvent) => {
    if (event.batchId !== this.batchId) return;
    this.activity = event;
    // Workers holding cells get their colour now, before they record their first one.
    if (this.store && Array.isArray(event.inFlight)) for (const w of event.inFlight) this.store.workers.slot(w.worker);
    this.onChange();
  };

  /** The image of an ended batch whose `batch:image` did not reach us: ask the batch itself. */
  private async checkImage() {
    this.imageCheckAt = Date.now() + this.imageCheckMs;
    this.imageCheckMs = Math.min(IMAGE_CHECK_MAX_MS, this.imageCheckMs * 2);
    try {
      const response = await fetch(`${this.apiBase}/api/batches/${encodeURIComponent(this.batchId)}`, { signal: this.aborter.signal });
      if (!response.ok) return;
      const body = (await response.json()) as Partial<Batch>;
      if (body.image && this.batch && !this.stopped) this.onImage({ batchId: this.batchId, image: body.image });
    } catch {
      // Offline: the next tick tries again.
    }
  }

  private readonly onFailed = (event: CellsFailedEvent) => {
    if (event.batchId !== this.batchId) return;
    this.track(event.seq);
    if (this.store) this.store.applyFailed(event.cells);
    else for (const cell of event.cells) this.pendingFailed.push(cell);
  };

  private readonly onCompleted = (event: BatchCompletedEvent) => {
    if (event.batchId !== this.batchId) return;
    this.track(event.seq);
    this.completion = event;
    if (this.batch) this.batch = withCompletion(this.batch, event);
    this.onChange();
    // Before the first snapshot there is nothing to reconcile; the snapshot's arrival schedules it.
    if (this.store) this.scheduleReconcile();
  };

  private readonly onWorkers = (event: WorkersStatusEvent) => {
    this.workersAlive = event.alive;
    this.intakePaused = event.intakePaused === true;
    this.onChange();
  };

  private scheduleReconcile() {
    if (this.reconcileTimer !== undefined || this.reconciled) return;
    this.reconcileTimer = setTimeout(() => void this.reconcile(), RECONCILE_GRACE_MS);
  }

  /**
   * Fetches every finished cell once, if the events so far fall short of the completion's count.
   * A read of every cell already under way is waited for instead: it may well close the gap.
   */
  private async reconcile() {
    if (this.cellsLoad) await this.cellsLoad;
    const { store, completion } = this;
    if (this.stopped || !store || !completion || store.painted >= completion.done) return;
    // Offline or refused: the banner still shows, and the next reconnect's catch-up fills the gap.
    await this.fetchCells();
    // Those cells came without pixels, and which events announced them is not known here.
    this.tileLoader?.request(0);
    this.reconciled = true;
    if (!this.stopped) this.onChange();
  }

  /**
   * Reads the coloured cells a first join left out (cellsOmitted), until a read succeeds. The read
   * starts after that join was answered, so it holds every cell up to the answer's seq; everything
   * after comes as events or catch-up joins, as for an inline snapshot.
   */
  private loadCells() {
    this.cellsLoad ??= (async () => {
      while (!this.stopped && !(await this.fetchCells())) {
        await new Promise((resolve) => (this.cellsRetryTimer = setTimeout(resolve, JOIN_RETRY_MS)));
      }
      this.cellsLoad = null;
      if (!this.stopped) this.onChange();
    })();
  }

  /** GET …/cells into the store; false if it is worth trying again (offline, or a server error). */
  private async fetchCells(): Promise<boolean> {
    try {
      const response = await fetch(`${this.apiBase}/api/batches/${encodeURIComponent(this.batchId)}/cells`, {
        signal: this.aborter.signal,
      });
      if (!response.ok) return response.status < 500 && response.status !== 429;
      const body = (await response.json()) as { cells: ColoredCell[] } & Partial<CellWorkers>;
      this.store?.applyColored(body.cells, body);
      return true;
    } catch {
      return this.aborter.signal.aborted;
    } finally {
      if (!this.stopped) this.onChange();
    }
  }
}

function completionFromBatch(batch: Batch): BatchCompletedEvent {
  return {
    batchId: batch.id,
    status: batch.status === 'running' ? 'completed' : batch.status,
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    elapsedMs: Math.max(0, Date.parse(batch.finishedAt ?? batch.createdAt) - Date.parse(batch.createdAt)),
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
    seq: batch.seq,
  };
}

function withCompletion(batch: Batch, c: BatchCompletedEvent): Batch {
  return {
    ...batch,
    status: c.status,
    done: c.done,
    failed: c.failed,
    finishedAt: batch.finishedAt ?? new Date(Date.parse(batch.createdAt) + c.elapsedMs).toISOString(),
    lastCell: c.lastCell ?? batch.lastCell,
    lastWorker: c.lastWorker ?? batch.lastWorker,
  };
}
