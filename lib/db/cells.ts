import type { CellWorkers, ColoredCell, FailedCell } from '../types';
import type { Sql } from './sql';

/** All SQL for the `cells` table. */

/** A cell's outcome: a colour, or (its retries exhausted) an error. Exactly one is set. */
export interface CellOutcomeRow {
  row: number;
  col: number;
  color: string | null;
  error: string | null;
  /** A picture cell's pixels (see the glossary in lib/types.ts); absent for everything else. */
  tile?: Uint8Array | null;
}

/** The recording a transaction writes its cells under: its own transaction id, unique for good. */
const THIS_RECORDING = 'pg_current_xact_id()::text::bigint';

/**
 * Records cell outcomes of one running batch in one statement, under this transaction's recording.
 * The first outcome a cell gets is final: a cell already finished (or failed) keeps that, and only
 * the cells recorded by this call come back, so a duplicate delivery changes nothing and counts
 * nothing. A batch that has ended takes nothing. The batch row is not locked here: the caller
 * counts the new cells under its lock afterwards and, should the batch have ended in between, takes
 * them back with `unrecordCells`. Cells go in sorted, so two transactions that share cells wait for
 * each other in one order and never deadlock.
 */
export async function insertOutcomes(sql: Sql, batchId: string, cells: CellOutcomeRow[], workerId: string): Promise<CellOutcomeRow[]> {
  if (cells.length === 0) return [];
  const sorted = [...cells].sort((a, b) => a.row - b.row || a.col - b.col);
  const packed = packTiles(sorted);
  const { rows } = await sql.query<CellOutcomeRow>(
    `insert into cells (batch_id, row_no, col_no, color, error, worker_id, recording, tile)
     select $1, c.row_no, c.col_no, c.color, c.error, $6, ${THIS_RECORDING},
            case when c.tile_length is not null then substring($7::bytea from c.tile_at + 1 for c.tile_length) end
       from unnest($2::int[], $3::int[], $4::text[], $5::text[], $8::int[], $9::int[]) as c (row_no, col_no, color, error, tile_at, tile_length)
      where exists (select 1 from batches b where b.id = $1 and b.status = 'running')
     on conflict (batch_id, row_no, col_no) do nothing
     returning row_no as "row", col_no as "col", color, error`,
    [
      batchId,
      sorted.map((c) => c.row),
      sorted.map((c) => c.col),
      sorted.map((c) => c.color),
      sorted.map((c) => c.error),
      workerId,
      packed.bytes,
      packed.at,
      packed.length,
    ],
  );
  if (!sorted.some((c) => c.tile)) return rows;
  // The tiles are not read back: the caller's own copies go with the cells that were new.
  const tiles = new Map(sorted.map((c) => [c.row * 65536 + c.col, c.tile]));
  return rows.map((r) => ({ ...r, tile: tiles.get(r.row * 65536 + r.col) ?? null }));
}

/**
 * The tiles of a recording as one buffer with each tile's offset and length: pg sends a Buffer as
 * a binary parameter, where an array of them would travel as hex text, twice the bytes, encoded
 * here and decoded by the server.
 */
function packTiles(cells: CellOutcomeRow[]): { bytes: Buffer | null; at: (number | null)[]; length: (number | null)[] } {
  const at: (number | null)[] = [];
  const length: (number | null)[] = [];
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const c of cells) {
    at.push(c.tile ? size : null);
    length.push(c.tile ? c.tile.length : null);
    if (c.tile) {
      parts.push(c.tile);
      size += c.tile.length;
    }
  }
  return { bytes: parts.length > 0 ? Buffer.concat(parts, size) : null, at, length };
}

/** Takes back the cells this transaction recorded for a batch that turned out to have ended. */
export async function unrecordCells(sql: Sql, batchId: string): Promise<void> {
  await sql.query(`delete from cells where batch_id = $1 and recording = ${THIS_RECORDING}`, [batchId]);
}

/** Notes that the cells event numbered `seq` announced this transaction's cells of the batch. */
export async function insertCellEvent(sql: Sql, batchId: string, seq: number): Promise<void> {
  await sql.query(`insert into cell_events (batch_id, seq, recording) values ($1, $2, ${THIS_RECORDING})`, [batchId, seq]);
}

/** A cell's outcome as read back, with the worker that recorded it. */
interface RecordedCellRow extends CellOutcomeRow {
  worker: string;
}

/** Rows one read of a batch's cells takes at most: a whole batch is read in pages, never at once. */
export const PAGE_ROWS = 10_000;
/** Recordings one catch-up read takes at most: each is one worker fetch, up to about 1,000 cells. */
const PAGE_RECORDINGS = 10;

/** Which outcomes a read takes: both kinds unless it names one. */
export interface CellKinds {
  only?: 'colored' | 'failed';
}

const KIND_FILTER = { colored: 'and color is not null', failed: 'and color is null' } as const;

/**
 * A batch's cell outcomes, finished and failed (or of the one kind `only` names), a page at a time, so that no reader holds a
 * million-cell batch whole: all of them in key order, or with `afterSeq` only those announced by
 * events numbered after it (what a client that applied up to it missed), recording by recording.
 * Each page is its own statement. That is safe because cells are only ever added, never changed:
 * every cell committed before the first page is in some page, and a cell committed later either
 * shows up too or (for a reader that joined the batch's room first) arrives as an event.
 */
export async function* outcomePages(sql: Sql, batchId: string, afterSeq = 0, { only }: CellKinds = {}): AsyncGenerator<RecordedCellRow[]> {
  const columns = 'row_no as "row", col_no as "col", color, error, worker_id as worker';
  const which = only ? KIND_FILTER[only] : '';
  if (afterSeq > 0) {
    for (let seq = afterSeq; ;) {
      const { rows: events } = await sql.query<{ seq: string; recording: string }>(
        'select seq, recording from cell_events where batch_id = $1 and seq > $2 order by seq limit $3',
        [batchId, seq, PAGE_RECORDINGS],
      );
      if (events.length === 0) return;
      const { rows } = await sql.query<RecordedCellRow>(
        `select ${columns} from cells where batch_id = $1 and recording = any($2::bigint[]) ${which}`,
        [batchId, events.map((e) => e.recording)],
      );
      if (rows.length > 0) yield rows;
      seq = Number(events[events.length - 1].seq);
    }
  }
  yield* rowsInKeyOrder<RecordedCellRow>(sql, batchId, columns, which, PAGE_ROWS);
}

/**
 * Cell outcomes, finished and failed (or of the one kind `only` names), read page by page (see outcomePages) into the compact shape a join answers with: the finished cells come with
 * the worker that recorded each (see CellWorkers), and no row object outlives its page.
 */
export async function listOutcomes(
  sql: Sql,
  batchId: string,
  afterSeq = 0,
  kinds: CellKinds = {},
): Promise<{ cells: ColoredCell[]; failedCells: FailedCell[] } & CellWorkers> {
  const cells: ColoredCell[] = [];
  const failedCells: FailedCell[] = [];
  const workers = new WorkerNames();
  const cellWorkers: number[] = [];
  for await (const page of outcomePages(sql, batchId, afterSeq, kinds)) {
    for (const r of page) {
      if (r.color !== null) {
        cells.push({ row: r.row, col: r.col, color: r.color });
        cellWorkers.push(workers.indexOf(r.worker));
      } else if (r.error !== null) failedCells.push({ row: r.row, col: r.col, error: r.error });
    }
  }
  return { cells, failedCells, workers: workers.names, cellWorkers };
}

export function splitOutcomes(rows: CellOutcomeRow[]): { cells: ColoredCell[]; failedCells: FailedCell[] } {
  const cells: ColoredCell[] = [];
  const failedCells: FailedCell[] = [];
  for (const r of rows) {
    if (r.color !== null) cells.push({ row: r.row, col: r.col, color: r.color });
    else if (r.error !== null) failedCells.push({ row: r.row, col: r.col, error: r.error });
  }
  return { cells, failedCells };
}

/** Names each worker once, in order of first appearance: cells point at a worker by its index. */
export class WorkerNames {
  readonly names: string[] = [];
  private readonly index = new Map<string, number>();

  indexOf(name: string): number {
    let w = this.index.get(name);
    if (w === undefined) {
      w = this.names.length;
      this.index.set(name, w);
      this.names.push(name);
    }
    return w;
  }
}

/** An event that announced cells, as read back to replay it: its number and the cells of its recording. */
export interface RecordedEvent {
  seq: number;
  recording: string;
  cells: (RecordedCellRow & { tile: Buffer | null })[];
}

/**
 * The cells events of a batch numbered in (afterSeq, throughSeq], in order, a few recordings per
 * page, each with the cells its recording wrote (tiles included). A recording announced by two
 * events (colours, then failures) comes with both, each holding all its cells: the caller splits
 * them by kind.
 */
export async function* eventPages(sql: Sql, batchId: string, afterSeq: number, throughSeq: number): AsyncGenerator<RecordedEvent[]> {
  for (let seq = afterSeq; seq < throughSeq;) {
    const { rows: events } = await sql.query<{ seq: string; recording: string }>(
      'select seq, recording from cell_events where batch_id = $1 and seq > $2 and seq <= $3 order by seq limit $4',
      [batchId, seq, throughSeq, PAGE_RECORDINGS],
    );
    if (events.length === 0) return;
    const { rows } = await sql.query<RecordedCellRow & { recording: string; tile: Buffer | null }>(
      `select row_no as "row", col_no as "col", color, error, worker_id as worker, recording, tile
         from cells where batch_id = $1 and recording = any($2::bigint[]) order by row_no, col_no`,
      [batchId, events.map((e) => e.recording)],
    );
    yield events.map((e) => ({ seq: Number(e.seq), recording: e.recording, cells: rows.filter((r) => r.recording === e.recording) }));
    seq = Number(events[events.length - 1].seq);
  }
}

/** A picture cell's pixels as read back for the page or the image stage. */
export interface TileRow {
  row: number;
  col: number;
  tile: Buffer;
}

/**
 * A picture's tiles, a page at a time in key order (all of them), or with `afterSeq` only those
 * announced by events numbered after it, recording by recording (see outcomePages for why paging is
 * safe). Pages are small: a tile is up to 12 KB.
 */
export async function* tilePages(sql: Sql, batchId: string, afterSeq = 0, pageRows = 256): AsyncGenerator<TileRow[]> {
  if (afterSeq > 0) {
    for (let seq = afterSeq; ;) {
      const { rows: events } = await sql.query<{ seq: string; recording: string }>(
        'select seq, recording from cell_events where batch_id = $1 and seq > $2 order by seq limit $3',
        [batchId, seq, PAGE_RECORDINGS],
      );
      if (events.length === 0) return;
      const { rows } = await sql.query<TileRow>(
        `select row_no as "row", col_no as "col", tile from cells where batch_id = $1 and recording = any($2::bigint[]) and tile is not null`,
        [batchId, events.map((e) => e.recording)],
      );
      if (rows.length > 0) yield rows;
      seq = Number(events[events.length - 1].seq);
    }
  }
  yield* rowsInKeyOrder(sql, batchId, 'row_no as "row", col_no as "col", tile', 'and tile is not null', pageRows);
}

/**
 * The finished cells of grid rows [fromRow, toRow) in key order, as the image stage reads them: the
 * colour of each and, for pictures, its tile. Cells without a colour are absent.
 */
export async function readImageBand(
  sql: Sql,
  batchId: string,
  fromRow: number,
  toRow: number,
): Promise<{ row: number; col: number; color: string; tile: Buffer | null }[]> {
  const { rows } = await sql.query<{ row: number; col: number; color: string; tile: Buffer | null }>(
    `select row_no as "row", col_no as "col", color, tile from cells
      where batch_id = $1 and row_no >= $2 and row_no < $3 and color is not null
      order by row_no, col_no`,
    [batchId, fromRow, toRow],
  );
  return rows;
}

/** A batch's cells in key order, `pageRows` per statement (keyset paging on the primary key). */
async function* rowsInKeyOrder<R extends { row: number; col: number }>(
  sql: Sql,
  batchId: string,
  columns: string,
  filter: string,
  pageRows: number,
): AsyncGenerator<R[]> {
  for (let after = { row: -1, col: -1 }; ;) {
    const { rows } = await sql.query<R>(
      `select ${columns} from cells
        where batch_id = $1 and (row_no, col_no) > ($2, $3) ${filter}
        order by row_no, col_no limit $4`,
      [batchId, after.row, after.col, pageRows],
    );
    if (rows.length > 0) yield rows;
    if (rows.length < pageRows) return;
    after = rows[rows.length - 1];
  }
}

/** A batch's finished cells (the contract's `cells`). */
export async function listCells(sql: Sql, batchId: string): Promise<ColoredCell[]> {
  const { rows } = await sql.query<ColoredCell>(
    'select row_no as "row", col_no as "col", color from cells where batch_id = $1 and color is not null',
    [batchId],
  );
  return rows;
}

/** Cells that failed for good, with the reason. */
export async function listFailedCells(sql: Sql, batchId: string): Promise<FailedCell[]> {
  const { rows } = await sql.query<FailedCell>(
    'select row_no as "row", col_no as "col", error from cells where batch_id = $1 and error is not null',
    [batchId],
  );
  return rows;
}

/** Deletes a batch's cells and cell events (retention); returns how many cells went. */
export async function deleteCellsOf(sql: Sql, batchId: string): Promise<number> {
  await sql.query('delete from cell_events where batch_id = $1', [batchId]);
  const { rows } = await sql.query<{ n: number }>(
    'with gone as (delete from cells where batch_id = $1 returning 1) select count(*)::int as n from gone',
    [batchId],
  );
  return rows[0].n;
}
