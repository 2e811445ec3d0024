import type {
  BatchActivityEvent,
  BatchCompletedEvent,
  BatchImageEvent,
  BatchStartedEvent,
  CellsColoredEvent,
  CellsFailedEvent,
  JoinAck,
  JoinOptions,
  WorkersStatusEvent,
} from '@/lib/realtime/events';
import type { Batch, BatchImage } from '@/lib/types';
import { BatchGrid } from './batch-grid';
import type { BatchView, Connection } from './batch-view';
import { CatchUp } from './catch-up';
import { readCells } from './cells-read';
import { completionFromBatch, endReached, withCompletion } from './completion';
import { fetchBatchImage, ImageCheck } from './image-check';
import type { BrowserSocket } from './socket';
import { TileLoader } from './tile-loader';

/**
 * The most finished cells a first join takes inline. A bigger batch's cells come from GET …/cells,
 * which the server streams, so it never holds a million of them in one Socket.IO answer.
 */
export const INLINE_CELLS = 50_000;
/** How often the follower asks whether a catch-up is due (see CatchUp): the resolution of its waits. */
const TICK_MS = 250;
/** How often the safety nets run: tiles without pixels, an image never announced, a start never heard. */
const SAFETY_NET_MS = 2_000;
/** A scheduled batch still shown as scheduled this long after its start time is asked about again. */
const START_OVERDUE_MS = 3_000;

/**
 * Follows one batch over the shared socket, outside React. It applies `cells:*` events to a
 * BatchGrid as they come, notes each event's number, and catches up one way only: a `batch:join`
 * (the snapshot the first time, then `afterSeq` = the last number applied), whenever CatchUp says
 * one is due — on every (re)connect, after a gap that does not close by itself, when a running
 * batch goes quiet, a while after a refused join. The end is shown once the grid holds every cell
 * it counts (see endReached). `onChange` says "coarse state changed"; counts are read by whoever
 * calls view(), at their own pace.
 */
export class BatchFollower {
  private state: BatchView['state'] = 'loading';
  private error: string | null = null;
  private batch: Batch | null = null;
  private grid: BatchGrid | null = null;
  private activity: BatchActivityEvent | null = null;
  /** An image announced before the first answer. */
  private pendingImage: BatchImage | null = null;
  private readonly imageCheck = new ImageCheck();
  private connection: Connection;
  private workersAlive: number | null = null;
  private intakePaused = false;
  private servedTags: string[] | null = null;
  private completion: BatchCompletedEvent | null = null;
  /** News that came before the first answer told us the grid's size, applied once it has. */
  private early: ((grid: BatchGrid) => void)[] = [];
  /** A large batch's finished cells are on their way over HTTP (see cells-read.ts). */
  private loadingCells = false;
  private readonly catchUp = new CatchUp(Date.now());
  private ticker: ReturnType<typeof setInterval> | undefined;
  private safetyNetAt = 0;
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
    const store = this.grid?.store ?? null;
    return {
      state: this.state,
      error: this.error,
      batch: this.batch,
      store,
      tiles: this.grid?.tiles ?? null,
      loadingTiles: this.grid?.tileLoader?.loading ?? false,
      activity: this.activity,
      finished: store?.finished ?? 0,
      failed: store?.failed ?? 0,
      attributed: store?.workers.attributed ?? 0,
      loadingCells: this.loadingCells,
      completion: this.endShown() ? this.completion : null,
      connection: this.connection,
      workersAlive: this.workersAlive,
      intakePaused: this.intakePaused,
      servedTags: this.servedTags,
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
    socket.on('batch:started', this.onStarted);
    socket.on('batch:image', this.onImage);
    socket.on('batch:activity', this.onActivity);
    socket.on('workers:status', this.onWorkers);
    if (socket.connected) this.onConnect();
    this.ticker = setInterval(this.onTick, TICK_MS);
    return () => {
      this.stopped = true;
      this.aborter.abort();
      clearInterval(this.ticker);
      socket.off('connect', this.onConnect);
      socket.off('disconnect', this.onDisconnect);
      socket.off('connect_error', this.onDisconnect);
      socket.off('cells:colored', this.onColored);
      socket.off('cells:failed', this.onFailed);
      socket.off('batch:completed', this.onCompleted);
      socket.off('batch:started', this.onStarted);
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
    this.catchUp.connected();
    this.onChange();
    this.catchUpIfDue();
  };

  private readonly onDisconnect = () => {
    // `active` means socket.io will keep trying; false only after a deliberate disconnect.
    this.connection = this.socket.active ? 'reconnecting' : 'offline';
    this.catchUp.disconnected();
    this.onChange();
  };

  private readonly onTick = () => {
    this.catchUpIfDue();
    const now = Date.now();
    if (now - this.safetyNetAt < SAFETY_NET_MS) return;
    this.safetyNetAt = now;
    if (this.grid && !this.loadingCells) this.grid.tileLoader?.check(this.grid.store);
    if (this.batch && this.batch.status !== 'scheduled' && !this.running() && !this.batch.image && this.imageCheck.due(now))
      void this.checkImage();
    // A start whose `batch:started` did not reach us (it is not numbered, so no gap shows it): ask.
    if (this.batch?.status === 'scheduled' && this.batch.startAt && now > Date.parse(this.batch.startAt) + START_OVERDUE_MS)
      this.socket.emit('batch:join', this.batchId, { afterSeq: this.catchUp.sequence.applied }, this.onJoined);
  };

  /** The one catch-up path: a join for everything after the last event applied (all of it, the first time). */
  private catchUpIfDue() {
    if (this.stopped || !this.catchUp.due(Date.now(), this.running())) return;
    this.catchUp.asked();
    const options: JoinOptions = this.grid ? { afterSeq: this.catchUp.sequence.applied } : { maxCells: INLINE_CELLS };
    this.socket.emit('batch:join', this.batchId, options, this.onJoined);
  }

  private readonly onJoined = (ack: JoinAck) => {
    if (this.stopped) return;
    if (!ack.ok) {
      if (ack.error.code === 'not_found') {
        this.state = 'not_found';
        this.catchUp.gone();
      } else {
        if (this.state !== 'ready') this.state = 'error';
        this.error = ack.error.message;
        this.catchUp.refused(Date.now());
      }
      this.onChange();
      return;
    }
    const batch = { ...ack.batch, image: ack.batch.image ?? this.batch?.image ?? this.pendingImage ?? null };
    const grid = (this.grid ??= new BatchGrid(
      batch,
      (tiles) => new TileLoader(this.batchId, tiles, this.aborter.signal, this.onChange, this.apiBase),
    ));
    grid.store.applyFinished(ack.cells, ack);
    grid.applyFailed(ack.failedCells ?? []);
    if (ack.cellsOmitted) this.loadCells(grid);
    // An answer's cells come without pixels: a first join reads every recorded tile, a catch-up
    // join those announced after the event it started from. Events bring their own tiles inline.
    if (grid.tileLoader && (ack.cells.length > 0 || ack.cellsOmitted)) grid.tileLoader.request(ack.afterSeq ?? 0);
    for (const apply of this.early) apply(grid);
    this.early = [];
    this.catchUp.answered(ack.seq, Date.now());
    if (!this.completion && batch.status !== 'running' && batch.status !== 'scheduled') this.completion = completionFromBatch(batch);
    this.batch = this.completion ? withCompletion(batch, this.completion) : batch;
    this.state = 'ready';
    this.error = null;
    this.onChange();
  };

  private readonly onColored = (event: CellsColoredEvent) => {
    if (event.batchId !== this.batchId) return;
    this.apply(event.seq, (grid) => grid.applyFinished(event));
  };

  private readonly onFailed = (event: CellsFailedEvent) => {
    if (event.batchId !== this.batchId) return;
    this.apply(event.seq, (grid) => grid.applyFailed(event.cells));
  };

  /** One numbered event's news: into the grid, or kept until the first answer has made it. */
  private apply(seq: number, news: (grid: BatchGrid) => void) {
    const shown = this.endShown();
    if (this.grid) news(this.grid);
    else this.early.push(news);
    this.catchUp.heard(seq, Date.now());
    // The last cells of a batch whose completion overtook them: show the end now, not on the next refresh.
    if (!shown && this.endShown()) this.onChange();
  }

  private readonly onCompleted = (event: BatchCompletedEvent) => {
    if (event.batchId !== this.batchId) return;
    this.catchUp.heard(event.seq, Date.now());
    this.completion = event;
    if (this.batch) this.batch = withCompletion(this.batch, event);
    this.onChange();
  };

  /** A scheduled batch started: the page turns into the live one, on the grid it already has. */
  private readonly onStarted = (event: BatchStartedEvent) => {
    if (event.batchId !== this.batchId || !this.batch || this.completion) return;
    this.batch = { ...event.batch, image: this.batch.image };
    this.onChange();
  };

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
    if (this.grid && Array.isArray(event.inFlight)) for (const w of event.inFlight) this.grid.store.workers.slot(w.worker);
    this.onChange();
  };

  private readonly onWorkers = (event: WorkersStatusEvent) => {
    this.workersAlive = event.alive;
    this.intakePaused = event.intakePaused === true;
    this.servedTags = Array.isArray(event.tags) ? event.tags : null;
    this.onChange();
  };

  private running(): boolean {
    return this.batch?.status === 'running' && !this.completion;
  }

  private endShown(): boolean {
    const { completion, grid } = this;
    if (!completion || !grid) return false;
    return endReached(completion, {
      applied: this.catchUp.sequence.applied,
      finished: grid.store.finished,
      loadingCells: this.loadingCells,
    });
  }

  /** The finished cells a first join left out (cellsOmitted), over HTTP. */
  private loadCells(grid: BatchGrid) {
    if (this.loadingCells) return;
    this.loadingCells = true;
    const url = `${this.apiBase}/api/batches/${encodeURIComponent(this.batchId)}/cells`;
    void readCells(url, this.aborter.signal, (body) => grid.store.applyFinished(body.cells, body)).then(() => {
      this.loadingCells = false;
      if (!this.stopped) this.onChange();
    });
  }

  /** The image of an ended batch whose `batch:image` did not reach us: ask the batch itself. */
  private async checkImage() {
    const image = await fetchBatchImage(`${this.apiBase}/api/batches/${encodeURIComponent(this.batchId)}`, this.aborter.signal);
    if (image && !this.stopped) this.onImage({ batchId: this.batchId, image });
  }
}
