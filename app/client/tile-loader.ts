import type { CellStore } from './cell-store';
import type { TileStore } from './tile-store';

/** Bytes before each tile's pixels in `GET …/tiles`: row and col, each a big-endian u16. */
const TILE_HEADER_BYTES = 4;
/** Between reads that found finished cells still without pixels, waits grow from this… */
const RETRY_MIN_MS = 2_000;
/** …to this. */
const RETRY_MAX_MS = 30_000;

/**
 * Brings a picture's tile pixels over HTTP where the socket did not: after a join (the snapshot's
 * cells come without pixels), after a catch-up join (`?afterSeq=N`, the tiles announced after N),
 * and, as a safety net, whenever cells stay finished without pixels. It never decides which cells a
 * batch has — the BatchFollower does — it only fills in pixels for them. One read at a time;
 * requests made meanwhile merge into the next (the smaller afterSeq wins, 0 meaning every tile).
 */
export class TileLoader {
  private running = false;
  /** The next read's afterSeq, if one is asked for. */
  private next: number | null = null;
  private lastEndedAt = 0;
  private retryMs = RETRY_MIN_MS;

  constructor(
    private readonly batchId: string,
    private readonly tiles: TileStore,
    private readonly signal: AbortSignal,
    private readonly onChange: () => void,
    private readonly apiBase = '',
  ) {}

  get loading(): boolean {
    return this.running;
  }

  /** Reads the tiles announced after event `afterSeq`; 0 (or null) reads every recorded tile. */
  request(afterSeq: number | null): void {
    const seq = afterSeq ?? 0;
    this.next = this.next === null ? seq : Math.min(this.next, seq);
    if (!this.running) void this.run();
  }

  /**
   * The safety net, called every few seconds: finished cells without pixels and no read under way
   * mean some pixels were never delivered (an event without tiles, a read cut short), so read every
   * tile again — at growing intervals while that brings nothing new.
   */
  check(cells: CellStore): void {
    if (this.running || this.next !== null || this.signal.aborted) return;
    const missing = this.tiles.missing(cells);
    if (missing === 0) {
      this.retryMs = RETRY_MIN_MS;
      return;
    }
    if (Date.now() - this.lastEndedAt < this.retryMs) return;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.request(0);
  }

  private async run(): Promise<void> {
    this.running = true;
    this.onChange();
    while (this.next !== null && !this.signal.aborted) {
      const afterSeq = this.next;
      this.next = null;
      if (!(await this.read(afterSeq)) && !this.signal.aborted) {
        // Offline or a server error: try the same read again a little later.
        this.next = this.next === null ? afterSeq : Math.min(this.next, afterSeq);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MIN_MS));
      }
    }
    this.running = false;
    this.lastEndedAt = Date.now();
    if (!this.signal.aborted) this.onChange();
  }

  /** One read, streamed into the store as it arrives; false if it is worth trying again. */
  private async read(afterSeq: number): Promise<boolean> {
    const query = afterSeq > 0 ? `?afterSeq=${afterSeq}` : '';
    try {
      const response = await fetch(`${this.apiBase}/api/batches/${encodeURIComponent(this.batchId)}/tiles${query}`, {
        signal: this.signal,
      });
      if (!response.ok || !response.body) return response.status < 500 && response.status !== 429;
      await readTileStream(response.body, this.tiles);
      return true;
    } catch {
      return this.signal.aborted;
    }
  }
}

/**
 * Parses `GET …/tiles` as it streams: records of row (u16 BE), col (u16 BE) and tileSize²·3 RGB
 * bytes, each put into the store. Whole records inside a chunk are read in place; one split across
 * chunks is gathered first.
 */
export async function readTileStream(body: ReadableStream<Uint8Array>, tiles: TileStore): Promise<void> {
  const recordBytes = TILE_HEADER_BYTES + tiles.tileBytes;
  const partial = new Uint8Array(recordBytes);
  let filled = 0;
  const putRecord = (bytes: Uint8Array, at: number) => {
    const row = (bytes[at] << 8) | bytes[at + 1];
    const col = (bytes[at + 2] << 8) | bytes[at + 3];
    tiles.put(row, col, bytes.subarray(at + TILE_HEADER_BYTES, at + recordBytes));
  };
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let at = 0;
    if (filled > 0) {
      const take = Math.min(recordBytes - filled, value.length);
      partial.set(value.subarray(0, take), filled);
      filled += take;
      at = take;
      if (filled < recordBytes) continue;
      putRecord(partial, 0);
      filled = 0;
    }
    for (; at + recordBytes <= value.length; at += recordBytes) putRecord(value, at);
    if (at < value.length) {
      partial.set(value.subarray(at), 0);
      filled = value.length - at;
    }
  }
  if (filled > 0) throw new Error(`The tile stream ended inside a record (${filled} of ${recordBytes} bytes).`);
}
