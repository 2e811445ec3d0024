import { findPaintParams } from '../lib/db/batches';
import type { Sql } from '../lib/db/sql';
import type { Batch } from '../lib/types';

/** What a worker must know of a batch to paint its cells. */
export type PaintParams = Pick<Batch, 'id' | 'rows' | 'cols' | 'kind' | 'view' | 'maxIterations' | 'tileSize' | 'workMs'>;

/** Batches remembered at most; a fetch rarely spans more than a couple. */
const REMEMBERED = 256;

/**
 * A batch's painting parameters, read from its row once and then remembered: they never change
 * after the batch is created, so this cache can never be stale. It holds nothing the web server owns.
 */
export class PaintParamsCache {
  private readonly known = new Map<string, PaintParams>();

  async get(sql: Sql, batchIds: Iterable<string>): Promise<Map<string, PaintParams>> {
    const wanted = [...new Set(batchIds)];
    const missing = wanted.filter((id) => !this.known.has(id));
    if (missing.length > 0) {
      for (const [id, params] of await findPaintParams(sql, missing)) this.remember(id, params);
    }
    const found = new Map<string, PaintParams>();
    for (const id of wanted) {
      const params = this.known.get(id);
      if (params) found.set(id, params);
    }
    return found;
  }

  private remember(id: string, params: PaintParams): void {
    if (this.known.size >= REMEMBERED) this.known.delete(this.known.keys().next().value!);
    this.known.set(id, params);
  }
}
