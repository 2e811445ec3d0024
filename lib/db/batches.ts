import type { Batch, BatchKind, BatchStatus, CellPosition, PictureView } from '../types';
import type { Sql } from './sql';

/** All SQL for the `batches` table. */

interface BatchRow {
  id: string;
  rows: number;
  cols: number;
  total: number;
  done: number;
  failed: number;
  status: BatchStatus;
  created_at: Date;
  finished_at: Date | null;
  deadline_at: Date;
  last_row: number | null;
  last_col: number | null;
  last_worker: string | null;
  seq: string;
  enqueued: number;
  priority: number;
  kind: BatchKind;
  view_x: number | null;
  view_y: number | null;
  view_width: number | null;
  max_iterations: number | null;
  tile_size: number | null;
  work_ms: number;
  image_at: Date | null;
  start_at: Date | null;
  schedule: string | null;
  tag: string;
}

const COLUMNS =
  'id, rows, cols, total, done, failed, status, created_at, finished_at, deadline_at, last_row, last_col, last_worker, seq, enqueued, priority, ' +
  'kind, view_x, view_y, view_width, max_iterations, tile_size, work_ms, image_at, start_at, schedule, tag';

/** The image's size in pixels: a pixel per cell for colours, a tile per cell for pictures. */
export function imageSize(batch: Pick<Batch, 'rows' | 'cols' | 'tileSize'>): { width: number; height: number } {
  const side = batch.tileSize ?? 1;
  return { width: batch.cols * side, height: batch.rows * side };
}

export function toBatch(row: BatchRow): Batch {
  const batch: Batch = {
    id: row.id,
    rows: row.rows,
    cols: row.cols,
    total: row.total,
    done: row.done,
    failed: row.failed,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
    deadlineAt: row.deadline_at.toISOString(),
    lastCell: row.last_row === null || row.last_col === null ? null : { row: row.last_row, col: row.last_col },
    lastWorker: row.last_worker,
    seq: Number(row.seq),
    enqueued: row.enqueued,
    priority: row.priority,
    tag: row.tag,
    kind: row.kind,
    image: null,
  };
  if (row.kind === 'mandelbrot') {
    batch.view = { x: row.view_x!, y: row.view_y!, width: row.view_width! };
    batch.maxIterations = row.max_iterations!;
    batch.tileSize = row.tile_size!;
  } else if (row.work_ms > 0) batch.workMs = row.work_ms;
  if (row.image_at) batch.image = { url: `/api/batches/${row.id}/image.png`, ...imageSize(batch) };
  if (row.start_at) batch.startAt = row.start_at.toISOString();
  if (row.schedule) batch.schedule = row.schedule;
  return batch;
}

/**
 * Inserts a batch row. With an idempotency key that another batch already holds, inserts nothing
 * and returns null; a concurrent insert of the same key waits for the first to commit, so the
 * caller can then read the winner with `findBatchByIdempotencyKey`.
 */
export async function insertBatch(
  sql: Sql,
  batch: {
    id: string;
    rows: number;
    cols: number;
    deadlineSeconds: number;
    priority?: number;
    traceParent?: string | null;
    idempotencyKey?: string;
    clientKey?: string;
    ownerSession?: string;
    kind?: BatchKind;
    view?: PictureView;
    maxIterations?: number;
    tileSize?: number;
    workMs?: number;
    /** Above 0: the batch waits as `scheduled` this many seconds, and its deadline counts from then. */
    startInSeconds?: number;
    schedule?: string;
    tag?: string;
  },
): Promise<Batch | null> {
  const picture = batch.kind === 'mandelbrot';
  const { rows } = await sql.query<BatchRow>(
    `insert into batches (id, rows, cols, total, idempotency_key, deadline_at, priority, trace_parent, client_key, owner_session,
                          kind, view_x, view_y, view_width, max_iterations, tile_size, work_ms, status, start_at, schedule, tag)
     values ($1, $2::int, $3::int, $2::int * $3::int, $4, now() + make_interval(secs => $17::float8 + $5), $6, $7, $8, $9,
             $10, $11, $12, $13, $14, $15, $16, case when $17::float8 > 0 then 'scheduled' else 'running' end,
             case when $17::float8 > 0 then now() + make_interval(secs => $17::float8) end, $18, $19)
     on conflict (idempotency_key) where idempotency_key is not null do nothing
     returning ${COLUMNS}`,
    [
      batch.id,
      batch.rows,
      batch.cols,
      batch.idempotencyKey ?? null,
      batch.deadlineSeconds,
      batch.priority ?? 0,
      batch.traceParent ?? null,
      batch.clientKey ?? null,
      batch.ownerSession ?? null,
      batch.kind ?? 'colors',
      picture ? batch.view!.x : null,
      picture ? batch.view!.y : null,
      picture ? batch.view!.width : null,
      picture ? batch.maxIterations : null,
      picture ? batch.tileSize : null,
      picture ? 0 : (batch.workMs ?? 0),
      batch.startInSeconds ?? 0,
      batch.schedule ?? null,
      batch.tag ?? 'default',
    ],
  );
  return rows[0] ? toBatch(rows[0]) : null;
}

/** The stored traceparent of each of these batches that has one (tracing was on when it started). */
export async function findTraceParents(sql: Sql, ids: string[]): Promise<Map<string, string>> {
  const { rows } = await sql.query<{ id: string; trace_parent: string }>(
    'select id, trace_parent from batches where id = any($1::uuid[]) and trace_parent is not null',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.trace_parent]));
}

/** Per status: how many batches, their cells, and how many of those finished (what `/metrics` reports). */
export async function summarizeBatches(
  sql: Sql,
): Promise<{ status: BatchStatus; batches: number; total: number; done: number; failed: number }[]> {
  const { rows } = await sql.query<{ status: BatchStatus; batches: number; total: string; done: string; failed: string }>(
    `select status, count(*)::int as batches, sum(total)::bigint as total, sum(done)::bigint as done, sum(failed)::bigint as failed
       from batches group by status`,
  );
  return rows.map((r) => ({
    status: r.status,
    batches: r.batches,
    total: Number(r.total),
    done: Number(r.done),
    failed: Number(r.failed),
  }));
}

export async function findBatchByIdempotencyKey(sql: Sql, key: string): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(`select ${COLUMNS} from batches where idempotency_key = $1`, [key]);
  return rows[0] ? toBatch(rows[0]) : null;
}

/**
 * Ends a running (or still scheduled) batch as cancelled or expired; null when it was neither (or
 * does not exist). A scheduled batch's start job then finds nothing to start.
 */
export async function endBatch(sql: Sql, id: string, status: 'cancelled' | 'expired'): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(
    `update batches set status = $2, finished_at = now(), seq = seq + 1 where id = $1 and status in ('running', 'scheduled') returning ${COLUMNS}`,
    [id, status],
  );
  return rows[0] ? toBatch(rows[0]) : null;
}

/** The hash of the session that started the batch (null: started before sessions, or by a script); null when there is no such batch. */
export async function findBatchOwner(sql: Sql, id: string): Promise<{ ownerSession: string | null } | null> {
  const { rows } = await sql.query<{ owner_session: string | null }>('select owner_session from batches where id = $1', [id]);
  return rows[0] ? { ownerSession: rows[0].owner_session } : null;
}

// Serializes one client's batch creations, so two parallel requests cannot both pass its limits.
// Transaction-level: released at commit or rollback, whatever happens to the request.
const CLIENT_LOCKS = 0x46_4c_43_4c; // "FLCL"

export async function lockClient(sql: Sql, clientKey: string): Promise<void> {
  await sql.query('select pg_advisory_xact_lock($1, hashtext($2))', [CLIENT_LOCKS, clientKey]);
}

/**
 * A client's batches created in the last `windowSeconds` and running now, and when the oldest of
 * the recent ones leaves the window (seconds from now, at least 1).
 */
export async function clientUsage(
  sql: Sql,
  clientKey: string,
  windowSeconds: number,
): Promise<{ recent: number; running: number; windowFreesInSeconds: number }> {
  const { rows } = await sql.query<{ recent: number; running: number; frees_in: number | null }>(
    `with recent as (
       select count(*)::int as n, min(created_at) as oldest from batches
       where client_key = $1 and created_at > now() - make_interval(secs => $2))
     select recent.n as recent,
            (select count(*)::int from batches where client_key = $1 and status in ('running', 'scheduled')) as running,
            ceil(extract(epoch from recent.oldest + make_interval(secs => $2) - clock_timestamp()))::int as frees_in
     from recent`,
    [clientKey, windowSeconds],
  );
  const row = rows[0];
  return { recent: row.recent, running: row.running, windowFreesInSeconds: Math.max(1, row.frees_in ?? 1) };
}

export async function findBatch(sql: Sql, id: string): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(`select ${COLUMNS} from batches where id = $1`, [id]);
  return rows[0] ? toBatch(rows[0]) : null;
}

export async function listBatches(sql: Sql, limit: number): Promise<Batch[]> {
  const { rows } = await sql.query<BatchRow>(`select ${COLUMNS} from batches order by created_at desc, id limit $1`, [limit]);
  return rows.map(toBatch);
}

/**
 * Counts newly finished and failed cells and, in the same guarded statement, moves the batch to `completed`
 * when they were its last ones. It takes the batch's row lock, which its caller then holds only until
 * it commits: only a running batch moves, and the lock serializes callers, so exactly one caller ever
 * sees `completedNow` (the one whose cells crossed the finish line), and cancel and expire, which take
 * the same lock, fence out every later count. The statement also numbers the caller's events:
 * `events` cells events, plus the completion if this is it. `firstSeq` is the first of those numbers;
 * the completion, if any, takes the last (`batch.seq`). Null when the batch was not running.
 */
export async function advanceBatch(
  sql: Sql,
  batchId: string,
  finished: { done: number; failed: number; events: number },
  last: CellPosition & { worker: string },
): Promise<{ batch: Batch; completedNow: boolean; firstSeq: number } | null> {
  const { rows } = await sql.query<BatchRow>(
    `update batches set
       seq = seq + $7::int + case when done + $2 + failed + $3 = total then 1 else 0 end,
       done = done + $2,
       failed = failed + $3,
       status = case when done + $2 + failed + $3 = total then 'completed' else status end,
       finished_at = case when done + $2 + failed + $3 = total then now() else null end,
       last_row = case when done + $2 + failed + $3 = total then $4 else last_row end,
       last_col = case when done + $2 + failed + $3 = total then $5 else last_col end,
       last_worker = case when done + $2 + failed + $3 = total then $6 else last_worker end
     where id = $1 and status = 'running'
     returning ${COLUMNS}`,
    [batchId, finished.done, finished.failed, last.row, last.col, last.worker, finished.events],
  );
  if (!rows[0]) return null;
  const batch = toBatch(rows[0]);
  const completedNow = batch.status === 'completed';
  return { batch, completedNow, firstSeq: batch.seq - finished.events - (completedNow ? 1 : 0) + 1 };
}

/** Running batches whose deadline has passed, oldest first. */
export async function findOverdueBatches(sql: Sql, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `select id from batches where status = 'running' and deadline_at < now() order by deadline_at limit $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

/**
 * Moves a running batch's fan-out mark from `from` to `to`, as the last statement of the transaction
 * that enqueued those cells' jobs. False, and the caller rolls back, when the mark is elsewhere
 * (another fan-out got there) or the batch has ended.
 */
export async function advanceEnqueued(sql: Sql, id: string, from: number, to: number): Promise<boolean> {
  const { rows } = await sql.query('update batches set enqueued = $3 where id = $1 and enqueued = $2 and status = $4 returning 1', [
    id,
    from,
    to,
    'running',
  ]);
  return rows.length > 0;
}

/** Running batches whose fan-out is not finished, oldest first. */
export async function findUnfinishedFanOuts(sql: Sql, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `select id from batches where status = 'running' and enqueued < total order by created_at limit $1`,
    [limit],
  );
  return rows.map((r) => r.id);
}

// A batch's fan-out lock: a session-level advisory lock, so a fan-out whose process dies releases it
// with its connection, and another can resume the batch at once.
const FAN_OUT_LOCKS = 0x46_4c_46_4f; // "FLFO"

export async function lockFanOut(sql: Sql, id: string): Promise<boolean> {
  const { rows } = await sql.query<{ locked: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as locked', [FAN_OUT_LOCKS, id]);
  return rows[0].locked;
}

export async function unlockFanOut(sql: Sql, id: string): Promise<void> {
  await sql.query('select pg_advisory_unlock($1, hashtext($2))', [FAN_OUT_LOCKS, id]);
}

/** Batches that ended more than `days` ago, oldest first: what retention deletes. */
export async function findBatchesPastRetention(sql: Sql, days: number, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `select id from batches where status <> 'running' and finished_at < now() - make_interval(days => $1) order by finished_at limit $2`,
    [days, limit],
  );
  return rows.map((r) => r.id);
}

/** Deletes a batch row that has ended (never a running or scheduled one); false if there was none. */
export async function deleteEndedBatch(sql: Sql, id: string): Promise<boolean> {
  const { rows } = await sql.query(`delete from batches where id = $1 and status not in ('running', 'scheduled') returning 1`, [id]);
  return rows.length > 0;
}

/**
 * Marks an ended batch's image as built, once: true for the one caller that moves it (who then
 * announces it in the same transaction), false when it was built already.
 */
export async function markImageReady(sql: Sql, id: string): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(
    `update batches set image_at = now() where id = $1 and status not in ('running', 'scheduled') and image_at is null returning ${COLUMNS}`,
    [id],
  );
  return rows[0] ? toBatch(rows[0]) : null;
}

/** What a worker needs of a batch to paint its cells: its kind and its picture's parameters. */
export async function findPaintParams(
  sql: Sql,
  ids: string[],
): Promise<Map<string, Pick<Batch, 'id' | 'rows' | 'cols' | 'kind' | 'view' | 'maxIterations' | 'tileSize' | 'workMs'>>> {
  const { rows } = await sql.query<BatchRow>(`select ${COLUMNS} from batches where id = any($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [r.id, toBatch(r)]));
}

/**
 * Which of these batches are still running: what a worker reads once per fetch, so that it does no
 * work for the cells of a batch that was cancelled or expired (one primary-key lookup per batch).
 */
export async function findRunningBatchIds(sql: Sql, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await sql.query<{ id: string }>(`select id from batches where id = any($1::uuid[]) and status = 'running'`, [ids]);
  return new Set(rows.map((r) => r.id));
}

/**
 * Starts a scheduled batch: `scheduled` becomes `running`, now, and its deadline moves with its
 * start (deadlineSeconds counts from the start). Null when it was not scheduled (cancelled already,
 * or started by another process): exactly one caller wins.
 */
export async function markScheduledStarted(sql: Sql, id: string): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(
    `update batches set status = 'running', deadline_at = now() + (deadline_at - start_at), start_at = now()
     where id = $1 and status = 'scheduled' returning ${COLUMNS}`,
    [id],
  );
  return rows[0] ? toBatch(rows[0]) : null;
}

/** Cells of scheduled batches: reserved against the global cap from their creation (lib/batches/capacity.ts). */
export async function scheduledCells(sql: Sql): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(`select coalesce(sum(total), 0)::bigint as n from batches where status = 'scheduled'`);
  return Number(rows[0].n);
}

/** Scheduled batches whose start is more than `graceSeconds` past: their start job was lost or is late. */
export async function findLateScheduledBatches(sql: Sql, graceSeconds: number, limit: number): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(
    `select id from batches where status = 'scheduled' and start_at < now() - make_interval(secs => $1) order by start_at limit $2`,
    [graceSeconds, limit],
  );
  return rows.map((r) => r.id);
}

/** A running batch as workers see it when they choose which batch's queue to fetch from. */
/** The running batches by tag: how many, and the cells they have left; most cells left first. */
export async function runningLoadByTag(sql: Sql): Promise<{ tag: string; batches: number; cellsLeft: number }[]> {
  const { rows } = await sql.query<{ tag: string; batches: number; cells_left: string }>(
    `select tag, count(*)::int as batches, sum(total - done - failed)::text as cells_left
       from batches where status = 'running' group by tag order by sum(total - done - failed) desc, tag`,
  );
  return rows.map((r) => ({ tag: r.tag, batches: r.batches, cellsLeft: Number(r.cells_left) }));
}

export interface RunningBatchRef {
  id: string;
  kind: BatchKind;
  workMs: number;
  priority: number;
  /** Only workers serving it take its cells. */
  tag: string;
}

/**
 * The running batches in the order workers take their cells: highest priority first, then oldest
 * (what one shared queue's `priority desc, created_on` order used to give).
 */
export async function listRunningBatches(sql: Sql, limit: number): Promise<RunningBatchRef[]> {
  const { rows } = await sql.query<RunningBatchRef>(
    `select id, kind, work_ms as "workMs", priority, tag from batches where status = 'running'
      order by priority desc, created_at, id limit $1`,
    [limit],
  );
  return rows;
}

/** Of these batch ids, the batches that have ended and the ids no batch has (never committed, or deleted). */
export async function findEndedBatchIds(sql: Sql, ids: string[]): Promise<{ ended: Set<string>; missing: Set<string> }> {
  const { rows } = await sql.query<{ id: string; status: BatchStatus }>('select id, status from batches where id = any($1::uuid[])', [ids]);
  const found = new Map(rows.map((r) => [r.id, r.status]));
  const ended = new Set<string>();
  const missing = new Set<string>();
  for (const id of ids) {
    const status = found.get(id);
    if (status === undefined) missing.add(id);
    else if (status !== 'running' && status !== 'scheduled') ended.add(id);
  }
  return { ended, missing };
}
