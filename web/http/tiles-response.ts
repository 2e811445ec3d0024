import { tilePages } from '../../lib/db/cells';
import type { Sql } from '../../lib/db/sql';
import type { Logger } from '../../lib/log';

/** Bytes before each tile's pixels: its row and its column, each an unsigned 16-bit big-endian integer. */
export const TILE_HEADER_BYTES = 4;

/**
 * The body of `GET …/tiles` (an extension, see the README's API reference): the picture's recorded
 * tiles as a binary stream, each `row u16, col u16` then tileSize² RGB pixels, row-major; all of
 * them, or with `afterSeq` only those announced after that event number. Read and written a page
 * at a time. A colour batch has no tiles: the body is empty.
 */
export function tilesResponse(sql: Sql, batchId: string, afterSeq: number, log: Logger): Response {
  const pages = tilePages(sql, batchId, afterSeq);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const page = await pages.next();
        if (page.done) return controller.close();
        const size = page.value.reduce((n, t) => n + TILE_HEADER_BYTES + t.tile.length, 0);
        const out = Buffer.allocUnsafe(size);
        let at = 0;
        for (const t of page.value) {
          out.writeUInt16BE(t.row, at);
          out.writeUInt16BE(t.col, at + 2);
          t.tile.copy(out, at + TILE_HEADER_BYTES);
          at += TILE_HEADER_BYTES + t.tile.length;
        }
        controller.enqueue(new Uint8Array(out.buffer, out.byteOffset, out.length));
      } catch (err) {
        log.error('GET /api/batches/:id/tiles failed while streaming', { batchId, err });
        controller.error(err);
      }
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' } });
}
