import type { Sql } from './sql';

/** All SQL for the `batch_images` table: a batch's PNG, stored in parts of up to a megabyte. */

/** Deletes a batch's image (retention), or any parts a stitch finds before it writes (belt and braces: none can have committed). */
export async function deleteImageParts(sql: Sql, batchId: string): Promise<void> {
  await sql.query('delete from batch_images where batch_id = $1', [batchId]);
}

export async function insertImagePart(sql: Sql, batchId: string, part: number, bytes: Buffer): Promise<void> {
  await sql.query('insert into batch_images (batch_id, part, bytes) values ($1, $2, $3)', [batchId, part, bytes]);
}

/** The image's parts in order, one statement each, so a reader never holds more than one. */
export async function* imageParts(sql: Sql, batchId: string): AsyncGenerator<Buffer> {
  for (let part = 0; ; part++) {
    const { rows } = await sql.query<{ bytes: Buffer }>('select bytes from batch_images where batch_id = $1 and part = $2', [
      batchId,
      part,
    ]);
    if (!rows[0]) return;
    yield rows[0].bytes;
  }
}

/** The image's size in bytes, or null when it has no parts. */
export async function imageByteLength(sql: Sql, batchId: string): Promise<number | null> {
  const { rows } = await sql.query<{ n: string | null }>('select sum(length(bytes))::bigint as n from batch_images where batch_id = $1', [
    batchId,
  ]);
  return rows[0].n === null ? null : Number(rows[0].n);
}

// One stitch of a batch's image at a time, whoever runs it: a transaction-level advisory lock.
const IMAGE_LOCKS = 0x46_4c_49_4d; // "FLIM"

export async function lockImage(sql: Sql, batchId: string): Promise<void> {
  await sql.query('select pg_advisory_xact_lock($1, hashtext($2))', [IMAGE_LOCKS, batchId]);
}
