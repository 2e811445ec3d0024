import { outcomePages, WorkerNames } from '../../lib/db/cells';
import type { Sql } from '../../lib/db/sql';
import type { Batch } from '../../lib/types';

/** What a successful join answer says besides its cells. */
export interface JoinAnswerHead {
  batch: Batch;
  afterSeq: number | null;
  cellsOmitted: boolean;
}

/**
 * The JSON text of a successful `batch:join` answer (JoinAck with `ok: true`), in pieces of at
 * least `pieceBytes` characters, the last one shorter or whatever is left. The cells are read a
 * page at a time and each page is turned into text only when the consumer asks for the next piece,
 * so a consumer that waits for each piece to drain holds one page, never the whole batch: a
 * million cells as objects are about 490 MB, as text 40 MB, a piece 256 KB.
 *
 * Colours come first in key order (or, with `afterSeq`, recording by recording), then failures;
 * the worker of each finished cell is kept as one number per cell (4 bytes) until `cellWorkers`
 * closes the answer. The text is what JSON.stringify would give for the same answer.
 */
export async function* joinAnswerText(sql: Sql, head: JoinAnswerHead, pieceBytes: number): AsyncGenerator<string, void, undefined> {
  const { batch, afterSeq, cellsOmitted } = head;
  let piece =
    `{"ok":true,"batch":${JSON.stringify(batch)},"seq":${batch.seq},"afterSeq":${JSON.stringify(afterSeq)},` +
    `"cellsOmitted":${cellsOmitted},"cells":[`;
  const workers = new WorkerNames();
  const cellWorkers = new GrowableIndexes();

  if (!cellsOmitted) {
    for await (const page of outcomePages(sql, batch.id, afterSeq ?? 0, { only: 'colored' })) {
      for (const r of page) {
        piece += `${cellWorkers.length === 0 ? '' : ','}{"row":${r.row},"col":${r.col},"color":${JSON.stringify(r.color)}}`;
        cellWorkers.push(workers.indexOf(r.worker));
      }
      if (piece.length >= pieceBytes) {
        yield piece;
        piece = '';
      }
    }
  }

  piece += '],"failedCells":[';
  let failed = 0;
  for await (const page of outcomePages(sql, batch.id, afterSeq ?? 0, { only: 'failed' })) {
    for (const r of page) piece += `${failed++ === 0 ? '' : ','}{"row":${r.row},"col":${r.col},"error":${JSON.stringify(r.error)}}`;
    if (piece.length >= pieceBytes) {
      yield piece;
      piece = '';
    }
  }

  piece += `],"workers":${JSON.stringify(workers.names)},"cellWorkers":[`;
  for (let i = 0; i < cellWorkers.length; i++) {
    piece += i === 0 ? `${cellWorkers.at(i)}` : `,${cellWorkers.at(i)}`;
    if (piece.length >= pieceBytes) {
      yield piece;
      piece = '';
    }
  }
  yield `${piece}]}`;
}

/** Bytes a join holds while its answer is built and sent: a page of rows and its text, and a number per finished cell. */
export function joinAnswerBytes(batch: Batch, pieceBytes: number, pageRows: number): number {
  const cells = Math.max(0, batch.done + batch.failed);
  return Math.min(cells, pageRows) * 300 + Math.min(cells * 60, pieceBytes) + batch.done * 4 + 4096;
}

/** Small non-negative integers, one per finished cell, in a typed array that doubles as needed. */
class GrowableIndexes {
  private items = new Uint32Array(1024);
  length = 0;

  push(value: number) {
    if (this.length === this.items.length) {
      const bigger = new Uint32Array(this.items.length * 2);
      bigger.set(this.items);
      this.items = bigger;
    }
    this.items[this.length++] = value;
  }

  at(i: number): number {
    return this.items[i];
  }
}
