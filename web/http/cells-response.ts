import { outcomePages, WorkerNames } from '../../lib/db/cells';
import type { Sql } from '../../lib/db/sql';
import type { Logger } from '../../lib/log';
import { JSON_HEADERS } from './respond';

/** cellWorkers numbers written per piece once every cell is out. */
const INDEXES_PER_PIECE = 50_000;

/**
 * The body of `GET …/cells` for a batch of any size: `{"cells": [...], "workers": [...],
 * "cellWorkers": [...]}`, written while it is read. Each pull reads one page of cells (see
 * outcomePages) and sends it, so a million-cell answer never sits in memory whole and a slow reader
 * slows the reading instead of filling the heap. Which worker recorded each cell is only an index
 * per cell until the end, where the worker names and the indexes follow the cells.
 */
export function cellsResponse(sql: Sql, batchId: string, log: Logger): Response {
  const encoder = new TextEncoder();
  const pages = outcomePages(sql, batchId, 0, { only: 'colored' });
  const workers = new WorkerNames();
  const cellWorkers: number[] = [];
  let separator = '';

  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('{"cells":['));
    },
    async pull(controller) {
      try {
        const page = await pages.next();
        if (!page.done) {
          let text = '';
          for (const r of page.value) {
            text += `${separator}{"row":${r.row},"col":${r.col},"color":${JSON.stringify(r.color)}}`;
            separator = ',';
            cellWorkers.push(workers.indexOf(r.worker));
          }
          return controller.enqueue(encoder.encode(text));
        }
        controller.enqueue(encoder.encode(`],"workers":${JSON.stringify(workers.names)},"cellWorkers":[`));
        for (let k = 0; k < cellWorkers.length; k += INDEXES_PER_PIECE) {
          controller.enqueue(encoder.encode((k > 0 ? ',' : '') + cellWorkers.slice(k, k + INDEXES_PER_PIECE).join(',')));
        }
        controller.enqueue(encoder.encode(']}'));
        controller.close();
      } catch (err) {
        // The status line is gone already: cut the body short, so the reader sees invalid JSON
        // rather than a list that looks whole.
        log.error('GET /api/batches/:id/cells failed while streaming', { batchId, err });
        controller.error(err);
      }
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers: JSON_HEADERS });
}
