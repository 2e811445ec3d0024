import { imageByteLength, imageParts } from '../../lib/db/images';
import type { Sql } from '../../lib/db/sql';
import { PublicError } from '../../lib/errors';
import type { Logger } from '../../lib/log';
import type { Batch } from '../../lib/types';

/**
 * The body of `GET …/image.png`: the stored parts, one read per pull, so a large picture is never
 * held whole by the web server. 409 until the batch's image stage has built it.
 */
export async function imageResponse(sql: Sql, batch: Batch, log: Logger): Promise<Response> {
  if (!batch.image) {
    const why = batch.status === 'running' ? 'The batch is still running' : 'The batch has ended and its image is being built';
    throw new PublicError('not_ready', `${why}; its image is ready when the batch's "image" is set (the "batch:image" event says so).`);
  }
  const length = await imageByteLength(sql, batch.id);
  if (length === null) throw new Error(`Batch ${batch.id} has an image but no stored parts`);
  const parts = imageParts(sql, batch.id);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await parts.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value));
      } catch (err) {
        log.error('GET /api/batches/:id/image.png failed while streaming', { batchId: batch.id, err });
        controller.error(err);
      }
    },
    async cancel() {
      await parts.return(undefined);
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'image/png',
      'content-length': String(length),
      // Built once and never changed; retention may delete it, so no "immutable".
      'cache-control': 'private, max-age=3600',
      'content-disposition': `inline; filename="finish-line-${batch.id}.png"`,
    },
  });
}
