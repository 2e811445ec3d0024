import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { findBatch, imageSize, markImageReady } from '../lib/db/batches';
import { readImageBand } from '../lib/db/cells';
import { deleteImageParts, insertImagePart, lockImage } from '../lib/db/images';
import { withTransaction } from '../lib/db/pool';
import type { Sql } from '../lib/db/sql';
import type { FaultPlan } from '../lib/faults';
import { PngEncoder } from '../lib/pictures/png';
import { emitInTransaction } from '../lib/realtime/emitter';
import type { Batch } from '../lib/types';

/** Stored parts of an image are at most this big, so no read or write of one holds much. */
const PART_BYTES = 1024 * 1024;

export type ImageOutcome = { built: Batch } | { skipped: 'missing' | 'running' | 'built already' };

/**
 * The image stage of one ended batch: stitches its finished cells into one PNG (a tile per cell for
 * pictures, a pixel per cell for colours, transparent where no colour landed), stores it in parts,
 * marks the batch's image ready and announces `batch:image`, all in one transaction. A stitch cut
 * short (its worker killed) commits nothing, and the retry starts over; two at once queue on the
 * batch's image lock, and the second finds the image built. The encoding is deterministic, so every
 * run gives the same bytes. It streams: one grid row of pixels and one part of output at a time.
 */
export async function buildImage(pool: pg.Pool, batchId: string, faults: FaultPlan | null = null): Promise<ImageOutcome> {
  return withTransaction(pool, async (tx) => {
    await lockImage(tx, batchId);
    const batch = await findBatch(tx, batchId);
    if (!batch) return { skipped: 'missing' };
    if (batch.status === 'running') return { skipped: 'running' };
    if (batch.image) return { skipped: 'built already' };
    await deleteImageParts(tx, batchId);
    await stitch(tx, batch, faults?.stitchRowDelayMs ?? 0);
    const ready = await markImageReady(tx, batchId);
    if (!ready?.image) return { skipped: 'built already' };
    await emitInTransaction(tx, batchId, 'batch:image', { batchId, image: ready.image });
    return { built: ready };
  });
}

async function stitch(tx: Sql, batch: Batch, rowDelayMs: number): Promise<void> {
  const { width, height } = imageSize(batch);
  const side = batch.tileSize ?? 1;
  const parts = new PartWriter(tx, batch.id);
  const encoder = new PngEncoder({ width, height }, (chunk) => parts.write(chunk));
  const band = new Uint8Array(width * side * 4);
  try {
    for (let row = 0; row < batch.rows; row++) {
      band.fill(0);
      for (const cell of await readImageBand(tx, batch.id, row, row + 1)) {
        if (cell.tile && cell.tile.length === side * side * 3) paintTile(band, width, cell.col * side, side, cell.tile);
        else paintBlock(band, width, cell.col * side, side, cell.color);
      }
      await encoder.writeRows(band, side);
      if (rowDelayMs > 0) await sleep(rowDelayMs);
    }
    await encoder.finish();
  } catch (err) {
    encoder.abort(err);
    throw err;
  }
  await parts.close();
}

/** Copies a tile's RGB pixels into a band of RGBA rows, opaque. */
function paintTile(band: Uint8Array, width: number, x0: number, side: number, tile: Uint8Array): void {
  for (let y = 0; y < side; y++) {
    let out = (y * width + x0) * 4;
    let src = y * side * 3;
    for (let x = 0; x < side; x++) {
      band[out] = tile[src];
      band[out + 1] = tile[src + 1];
      band[out + 2] = tile[src + 2];
      band[out + 3] = 255;
      out += 4;
      src += 3;
    }
  }
}

/** Fills a side × side block of a band with one `#RRGGBB` colour, opaque. */
function paintBlock(band: Uint8Array, width: number, x0: number, side: number, color: string): void {
  const rgb = Number.parseInt(color.slice(1), 16);
  for (let y = 0; y < side; y++) {
    for (let x = 0, out = (y * width + x0) * 4; x < side; x++, out += 4) {
      band[out] = rgb >> 16;
      band[out + 1] = (rgb >> 8) & 0xff;
      band[out + 2] = rgb & 0xff;
      band[out + 3] = 255;
    }
  }
}

/** Gathers the encoder's output into parts of PART_BYTES and stores each as it fills. */
class PartWriter {
  private chunks: Buffer[] = [];
  private size = 0;
  private part = 0;

  constructor(
    private readonly tx: Sql,
    private readonly batchId: string,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size >= PART_BYTES) {
      const all = Buffer.concat(this.chunks);
      await insertImagePart(this.tx, this.batchId, this.part++, all.subarray(0, PART_BYTES));
      this.chunks = [all.subarray(PART_BYTES)];
      this.size = all.length - PART_BYTES;
    }
  }

  async close(): Promise<void> {
    if (this.size > 0 || this.part === 0) await insertImagePart(this.tx, this.batchId, this.part++, Buffer.concat(this.chunks));
    this.chunks = [];
    this.size = 0;
  }
}
