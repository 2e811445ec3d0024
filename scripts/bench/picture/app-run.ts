import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { BENCH_VIEW } from '../../../lib/pictures/mandelbrot';
import { cellQueueOf } from '../../../lib/queue/cell-job';
import type { BatchCompletedEvent, CellsColoredEvent, JoinAck } from '../../../lib/realtime/events';
import type { Batch } from '../../../lib/types';
import type { App } from './app';
import { PARAMS } from './constants';
import { type CpuReport, diff, snapshot } from './cpu';
import { BenchError } from './errors';
import { log, round2, secs } from './format';
import { backendLabels, topStatements } from './postgres-stats';
import type { WaitUntil } from './wait';

/**
 * One picture through the app's public contract (POST /api/batches → `batch:completed` over
 * Socket.IO), timed; then the facts of the run from the app's own tables and PostgreSQL's.
 */

const BATCH_TIMEOUT_MS = 240_000;
const IMAGE_TIMEOUT_MS = 120_000;

export interface OursRun {
  workers: number;
  rep: number;
  batchId: string;
  /** POST → 201. */
  toCreatedMs: number;
  /** POST → the first cells:colored event of the batch. */
  toFirstTileMs: number;
  /** POST → batch:completed: the measure. */
  toCompletedMs: number;
  /** The batch's own createdAt → finishedAt (database clock). */
  createdToFinishedMs: number;
  /** batch:completed → the image stage's image (not part of the measure). */
  imageMs: number | null;
  cpu: CpuReport;
  /** Tiles each worker recorded, and when it recorded its first and last, from createdAt. */
  byWorker: { worker: string; tiles: number; firstMs: number; lastMs: number; recordings: number }[];
  /** Recording transactions (cells:colored events) and tiles per recording. */
  recordings: number;
  /** pg-boss fetches of the batch's jobs (distinct started_on) and their sizes. */
  fetches: { count: number; meanSize: number; maxSize: number } | null;
  /** The cells:colored events this client received (the room's news). */
  eventsSeen: number;
  /** Statements that took PostgreSQL's time during the run (pg_stat_statements). */
  statements: { query: string; calls: number; totalMs: number; meanMs: number }[] | null;
  /** Tiles whose colour differs from the floor's (0: the same picture). */
  colorMismatches: number | null;
}

interface RunSpec {
  rows: number;
  cols: number;
  workers: number;
  rep: number;
  postmasterPid: number | null;
  statements: boolean;
  admin: pg.Client;
  referenceColors: string[] | null;
}

/** One picture through the public contract: POST, join, wait for batch:completed; then the facts. */
export async function runOurs(app: App, spec: RunSpec, waitUntil: WaitUntil, check: () => void): Promise<OursRun> {
  const { socket, base } = app;
  const total = spec.rows * spec.cols;
  const warmup = spec.rep === 0;
  let batchId = '';
  let tilesSeen = 0;
  let eventsSeen = 0;
  let firstTileAt = 0;
  let completed: BatchCompletedEvent | null = null;
  let completedAt = 0;
  let imageAt = 0;
  const early: CellsColoredEvent[] = [];
  const earlyCompleted: [BatchCompletedEvent, number][] = [];
  const onCells = (e: CellsColoredEvent) => {
    if (!batchId) return void early.push(e);
    if (e.batchId !== batchId) return;
    firstTileAt ||= performance.now();
    tilesSeen += e.cells.length;
    eventsSeen++;
  };
  const onCompleted = (e: BatchCompletedEvent) => {
    if (!batchId) return void earlyCompleted.push([e, performance.now()]);
    if (e.batchId !== batchId || completed) return;
    completed = e;
    completedAt = performance.now();
  };
  const onImage = (e: { batchId: string }) => {
    if (e.batchId === batchId) imageAt ||= performance.now();
  };
  socket.on('cells:colored', onCells);
  socket.on('batch:completed', onCompleted);
  socket.on('batch:image', onImage);
  let started = performance.now();
  const progress = warmup
    ? undefined
    : setInterval(() => log(`  … ${tilesSeen}/${total} tiles after ${secs(performance.now() - started)}`), 2000);
  try {
    if (spec.statements) await spec.admin.query('select pg_stat_statements_reset()').catch(() => undefined);
    const before = snapshot(app.processes, spec.postmasterPid);
    const body = {
      rows: spec.rows,
      cols: spec.cols,
      kind: 'mandelbrot',
      view: BENCH_VIEW.view,
      maxIterations: PARAMS.maxIterations,
      tileSize: PARAMS.tileSize,
    };
    started = performance.now();
    const response = await fetch(`${base}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const createdAt = performance.now();
    const created = (await response.json().catch(() => null)) as (Batch & { error?: { message: string } }) | null;
    if (response.status !== 201 || !created?.id)
      throw new BenchError(`POST /api/batches answered ${response.status}: ${JSON.stringify(created)}`);
    batchId = created.id;
    for (const e of early.splice(0)) onCells(e);
    for (const [e, at] of earlyCompleted.splice(0)) if (e.batchId === batchId && !completed) [completed, completedAt] = [e, at];
    const ack = await Promise.race([
      new Promise<JoinAck>((resolve) => socket.emit('batch:join', batchId, { maxCells: 0 }, resolve)),
      sleep(30_000).then(() => Promise.reject(new BenchError('batch:join got no answer within 30 s'))),
    ]);
    if (!ack.ok) throw new BenchError(`batch:join failed: ${ack.error.message}`);
    if (ack.batch.status !== 'running' && !completed) {
      // It ended before the join: the join's answer is then the news (only ever on a tiny batch).
      completed = completedEvent(ack.batch);
      completedAt = performance.now();
    }
    await waitUntil(
      `batch:completed of ${spec.rows}×${spec.cols} tiles (seen ${tilesSeen} so far)`,
      () => completed !== null,
      BATCH_TIMEOUT_MS,
      5,
      check,
    );
    const after = snapshot(app.processes, spec.postmasterPid);
    clearInterval(progress);
    const labels = await backendLabels(spec.admin);
    const cpu = diff(before, after, labels, spec.postmasterPid);
    const done = completed as BatchCompletedEvent | null;
    if (!done || done.status !== 'completed' || done.done !== total)
      throw new BenchError(`the batch ended ${done?.status} with ${done?.done}/${total} tiles done and ${done?.failed} failed`);

    const batch = (await (await fetch(`${base}/api/batches/${batchId}`)).json()) as Batch;
    if (batch.status !== 'completed' || batch.done !== total || !batch.finishedAt)
      throw new BenchError(`GET /api/batches/${batchId} says ${batch.status}, ${batch.done}/${total} done`);
    const statements = spec.statements ? await topStatements(spec.admin, new URL(app.databaseUrl).pathname.slice(1)) : null;

    // Where the tiles went, from the app's own tables (read after the timing, by this bench only).
    const byWorker = (
      await app.db.query<{ worker: string; tiles: string; first_ms: number; last_ms: number; recordings: string }>(
        `select c.worker_id as worker, count(*) as tiles, count(distinct c.recording) as recordings,
                extract(epoch from min(c.colored_at) - b.created_at) * 1000 as first_ms,
                extract(epoch from max(c.colored_at) - b.created_at) * 1000 as last_ms
           from cells c join batches b on b.id = c.batch_id where c.batch_id = $1 group by c.worker_id, b.created_at order by 1`,
        [batchId],
      )
    ).rows.map((r) => ({
      worker: r.worker,
      tiles: Number(r.tiles),
      recordings: Number(r.recordings),
      firstMs: Math.round(r.first_ms),
      lastMs: Math.round(r.last_ms),
    }));
    const fetches = await app.db
      .query<{ n: string; mean: number; max: number }>(
        `select count(*) as n, avg(k)::float8 as mean, max(k) as max from (
           select count(*) as k from pgboss.job where name = $1 and started_on is not null group by started_on) f`,
        [cellQueueOf(batchId)],
      )
      // The batch's queue goes with it once it completes: then there is nothing left to measure.
      .then((r) =>
        Number(r.rows[0].n) === 0 ? null : { count: Number(r.rows[0].n), meanSize: round2(r.rows[0].mean), maxSize: Number(r.rows[0].max) },
      )
      .catch(() => null);

    let colorMismatches: number | null = null;
    if (spec.referenceColors && spec.rows === PARAMS.rows && spec.cols === PARAMS.cols && spec.rep === 1) {
      const cells = (
        (await (await fetch(`${base}/api/batches/${batchId}/cells`)).json()) as { cells: { row: number; col: number; color: string }[] }
      ).cells;
      colorMismatches = cells.filter((c) => c.color !== spec.referenceColors![c.row * spec.cols + c.col]).length + (total - cells.length);
      if (colorMismatches > 0) log(`warning: ${colorMismatches} tiles of the app's picture differ in colour from the floor's`);
    }

    // The image stage runs on the workers after the completion: let it end before the next run.
    await waitUntil(
      'the batch image',
      async () => imageAt > 0 || ((await (await fetch(`${base}/api/batches/${batchId}`)).json()) as Batch).image !== null || false,
      IMAGE_TIMEOUT_MS,
      250,
      check,
    ).catch((err: unknown) => log(`warning: ${(err as Error).message}; going on`));
    if (!imageAt) imageAt = performance.now();

    const run: OursRun = {
      workers: spec.workers,
      rep: spec.rep,
      batchId,
      toCreatedMs: createdAt - started,
      toFirstTileMs: (firstTileAt || completedAt) - started,
      toCompletedMs: completedAt - started,
      createdToFinishedMs: Date.parse(batch.finishedAt) - Date.parse(batch.createdAt),
      imageMs: imageAt - completedAt,
      cpu,
      byWorker,
      recordings: byWorker.reduce((n, w) => n + w.recordings, 0),
      fetches,
      eventsSeen,
      statements,
      colorMismatches,
    };
    if (warmup)
      log(`warm-up done in ${secs(run.toCompletedMs)} (tiles by worker: ${byWorker.map((w) => `${w.worker} ${w.tiles}`).join(', ')})`);
    return run;
  } finally {
    clearInterval(progress);
    socket.off('cells:colored', onCells);
    socket.off('batch:completed', onCompleted);
    socket.off('batch:image', onImage);
    if (batchId) socket.emit('batch:leave', batchId);
  }
}

function completedEvent(batch: Batch): BatchCompletedEvent {
  return {
    batchId: batch.id,
    status: batch.status as BatchCompletedEvent['status'],
    total: batch.total,
    done: batch.done,
    failed: batch.failed,
    elapsedMs: batch.finishedAt ? Date.parse(batch.finishedAt) - Date.parse(batch.createdAt) : 0,
    lastCell: batch.lastCell,
    lastWorker: batch.lastWorker,
    seq: batch.seq,
  };
}
