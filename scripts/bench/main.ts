import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { io as connect, type Socket } from 'socket.io-client';
import { startEmbeddedPostgres, type RunningPostgres } from '../../lib/db/embedded';
import type { ClientToServerEvents, ServerToClientEvents } from '../../lib/realtime/events';
import type { Batch } from '../../lib/types';
import { childProcessesOf } from '../child-process';
import { freePort } from '../ports';
import { startProxy } from '../tcp-proxy';
import { measurePageFps } from './fps';
import { runPictureBench } from './picture/run';
import { type ProbeReport, startProbes } from './probes';

/**
 * `npm run bench`: Finish Line end to end through its public contract, against bare pg-boss on the
 * same PostgreSQL in the same run, for 10,000 and 100,000 cells (and 1,000,000 with --million).
 * Prints a table of medians (min–max over --reps) and the ratio ours/baseline; writes JSON and
 * Markdown to bench-results/.
 */
const { values: args } = parseArgs({
  options: {
    million: { type: 'boolean', default: false },
    fps: { type: 'boolean', default: false },
    picture: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    workers: { type: 'string', default: '2' },
    'web-servers': { type: 'string', default: '1' },
    'up-to': { type: 'string', default: '1000000' },
  },
});
const reps = Number(args.reps);
const workers = Number(args.workers);
const webServers = Number(args['web-servers']);
const SIZES: [number, number][] = [[100, 100], [250, 400], ...(args.million ? ([[1000, 1000]] as [number, number][]) : [])].filter(
  ([rows, cols]) => rows * cols <= Number(args['up-to']),
) as [number, number][];
const ROOT = path.resolve(import.meta.dirname, '../..');
const BASELINES = ['bare', 'reference'] as const;
type BaselineKind = (typeof BASELINES)[number];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface OursRun {
  toCreatedMs: number;
  toFirstCellMs: number;
  toCompletedMs: number;
  cellsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  dbGrowthBytes: number;
  /** What the viewer received for this batch (events, join answer, frames), per cell. */
  wireBytesPerCell: number;
  /** What the batch leaves at rest: the growth of the app's own tables (cells, events, the batch and its image). */
  keptBytes: number;
}

async function main() {
  if (args.picture) return runPictureBench({ reps });
  const dir = await mkdtemp(path.join(tmpdir(), 'finishline-bench-'));
  await chmod(dir, 0o755);
  let postgres: RunningPostgres | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pg'),
      port: await freePort(),
      database: 'bench',
      settings: ['shared_preload_libraries=pg_stat_statements'],
    });
    // The superuser: the bench creates databases and loads pg_stat_statements.
    adminUrl = postgres.adminUrl;
  }
  const baselineUrl = withDatabase(adminUrl, 'bench_baseline');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('drop database if exists bench_baseline with (force)');
  await admin.query('create database bench_baseline');
  // Where the database's time goes (only where the server has the module loaded).
  await admin.query('create extension if not exists pg_stat_statements').catch(() => undefined);

  // Ours: the app as `npm start` runs it, on that PostgreSQL.
  const port = await freePort();
  const app = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    // Every run comes from one client (this script): the per-client limits would only measure themselves.
    env: {
      ...process.env,
      DATABASE_URL: adminUrl,
      PORT: String(port),
      WORKERS: String(workers),
      WEB_SERVERS: String(webServers),
      LOG_LEVEL: 'warn',
      BATCHES_PER_MINUTE: '1000000',
      RUNNING_BATCHES_PER_CLIENT: '1000000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  // With several web servers, the client watches from the last one: its events cross the adapter.
  const watchFrom = `http://127.0.0.1:${port + webServers - 1}`;
  const appExited = new Promise<never>((_, reject) =>
    app.once('exit', (code) => reject(new Error(`the app exited (code ${code}) before it was up`))),
  );
  for (const url of [base, watchFrom]) {
    await Promise.race([waitUntil(async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true, 240_000), appExited]);
  }
  const processes = childProcesses(app.pid!);
  const appRoles = ['web', 'worker'].map((role) => ({ role, pids: () => processes.filter((p) => p.role === role).map((p) => p.pid) }));

  // Baselines (scripts/bench/baseline-worker.ts): bare pg-boss workers, as many processes as ours,
  // on one queue; the reference setup, one process with its fan-in counter, on another.
  const baselineBoss = new PgBoss({ connectionString: baselineUrl, max: 4, schedule: false, supervise: false });
  baselineBoss.on('error', () => undefined);
  await baselineBoss.start();
  for (const kind of BASELINES) await baselineBoss.createQueue(kind, { notify: true });
  const baselinePool = new pg.Pool({ connectionString: baselineUrl, max: 2 });
  await baselinePool.query('create table bench_fan_in (id int primary key, done bigint not null)');
  await baselinePool.query('insert into bench_fan_in values (1, 0)');
  const baselineWorkers: Record<BaselineKind, ChildProcess[]> = {
    bare: Array.from({ length: workers }, () => spawnBaselineWorker(baselineUrl, 'bare')),
    reference: [spawnBaselineWorker(baselineUrl, 'reference')],
  };
  const allBaselineWorkers = [...baselineWorkers.bare, ...baselineWorkers.reference];
  await Promise.all(allBaselineWorkers.map((w) => new Promise((resolve) => w.once('message', resolve))));

  const baselineRoles = (kind: BaselineKind) => [{ role: `${kind} baseline`, pids: () => baselineWorkers[kind].map((w) => w.pid!) }];
  // The viewer watches through a counting proxy: what the server sent it, as it travels on the wire
  // (with permessage-deflate, which socket.io-client offers as browsers do).
  const wire = await startProxy(Number(new URL(watchFrom).port));
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(wire.url, { transports: ['websocket'] });
  await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));

  // One unmeasured 10,000-cell run of each first: the app's first batch pays for its processes'
  // warm-up (compiled routes, JIT, first statements planned), which is not what the sizes compare.
  await runOurs(base, socket, admin, 100, 100, wire);
  for (const kind of BASELINES) await runBaseline(kind, baselineBoss, baselinePool, baselineWorkers[kind], 10_000);

  const results = [];
  for (const [rows, cols] of SIZES) {
    const total = rows * cols;
    const ours: OursRun[] = [];
    const baselines: Record<BaselineKind, number[]> = { bare: [], reference: [] };
    const probes = {} as Record<'ours' | BaselineKind, ProbeReport>;
    for (let rep = 0; rep < reps; rep++) {
      const oursProbe = await startProbes(adminUrl, postgres?.pid ?? null, appRoles);
      ours.push(await runOurs(base, socket, admin, rows, cols, wire));
      probes.ours = await oursProbe.stop();
      for (const kind of BASELINES) {
        const baselineProbe = await startProbes(baselineUrl, postgres?.pid ?? null, baselineRoles(kind));
        baselines[kind].push(await runBaseline(kind, baselineBoss, baselinePool, baselineWorkers[kind], total));
        probes[kind] = await baselineProbe.stop();
      }
      console.log(
        `${total} cells, rep ${rep + 1}/${reps}: ours ${Math.round(ours.at(-1)!.toCompletedMs)} ms, baselines: ${BASELINES.map(
          (kind) => `${kind} ${Math.round(baselines[kind].at(-1)!)} ms`,
        ).join(', ')}`,
      );
    }
    // The honest baseline is the faster of the two at this size.
    const used = BASELINES.reduce((a, b) => (median(baselines[b]) < median(baselines[a]) ? b : a));
    results.push({
      total,
      ours: summarize(ours),
      baselineMs: stats(baselines[used]),
      baselineUsed: used,
      baselinesMs: Object.fromEntries(BASELINES.map((kind) => [kind, stats(baselines[kind])])) as Record<
        BaselineKind,
        ReturnType<typeof stats>
      >,
      ratio: median(ours.map((o) => o.toCompletedMs)) / median(baselines[used]),
      lastRunProbes: probes,
    });
  }
  // No slower with history: the first size again, right after the last (with --million, right after
  // a million-cell batch), on the database that now holds every batch above (cells are kept for the
  // retention period; finished jobs go a minute after their batch).
  const [firstRows, firstCols] = SIZES[0]!;
  const again: number[] = [];
  for (let rep = 0; rep < reps; rep++) again.push((await runOurs(base, socket, admin, firstRows, firstCols, wire)).toCompletedMs);
  const held = await admin.query<{ cells: string; size: string }>(
    'select (select count(*) from cells) as cells, pg_database_size(current_database()) as size',
  );
  const history = {
    total: firstRows * firstCols,
    freshMs: results[0]!.ours.toCompletedMs.median,
    afterHistoryMs: median(again),
    ratio: median(again) / results[0]!.ours.toCompletedMs.median,
    cellsHeld: Number(held.rows[0]!.cells),
    databaseBytes: Number(held.rows[0]!.size),
  };
  const fps = args.fps ? await measurePageFps(base, 1000, 1000) : null;
  const rss = processes.map((p) => ({ role: p.role, pid: p.pid, peakRssMb: peakRssMb(p.pid) }));
  const report = { date: new Date().toISOString(), workers, webServers, reps, results, history, peakRss: rss, fps };

  const cpu = (r: ProbeReport) =>
    Object.entries(r.cpuSeconds)
      .map(([role, sec]) => `${role} ${sec.toFixed(1)} s`)
      .join(', ');
  const table = [
    `Finish Line bench: ${webServers} web server(s), ${workers} workers; medians of ${reps} runs (min–max).`,
    '',
    '| cells | POST → 201 | → first cell | POST → completed (ours) | baseline (faster of bare / reference) | ours / baseline | cells/s | latency p50 / p99 | DB growth (jobs included) | kept at rest, per 1M cells | wire, bytes per cell |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) =>
      row([
        r.total.toLocaleString('en-US'),
        fmt(r.ours.toCreatedMs),
        fmt(r.ours.toFirstCellMs),
        fmt(r.ours.toCompletedMs),
        `${fmt(r.baselineMs)}, ${r.baselineUsed} (bare ${Math.round(r.baselinesMs.bare.median)} ms, reference ${Math.round(
          r.baselinesMs.reference.median,
        )} ms)`,
        r.ratio.toFixed(2),
        Math.round(r.ours.cellsPerSecond.median).toLocaleString('en-US'),
        `${Math.round(r.ours.latencyP50Ms.median)} / ${Math.round(r.ours.latencyP99Ms.median)} ms`,
        `${(r.ours.dbGrowthBytes.median / 1e6).toFixed(1)} MB`,
        `${(r.ours.keptBytes.median / r.total).toFixed(0)} MB`,
        r.ours.wireBytesPerCell.median.toFixed(1),
      ]),
    ),
    '',
    `With history: ${history.total.toLocaleString('en-US')} cells took ${Math.round(history.freshMs)} ms first and ${Math.round(
      history.afterHistoryMs,
    )} ms after the runs above (×${history.ratio.toFixed(2)}; the database then held ${history.cellsHeld.toLocaleString('en-US')} cells, ${(
      history.databaseBytes / 1e9
    ).toFixed(2)} GB).`,
    '',
    `Peak RSS: ${rss.map((p) => `${p.role} ${p.peakRssMb} MB`).join(', ')}.`,
    '',
    'Where the time went (last run of each size): CPU seconds by process role, share of samples with a backend waiting on a lock, WAL written.',
    '',
    '| cells | run | wall | CPU | lock waits | WAL |',
    '|---|---|---|---|---|---|',
    ...results.flatMap((r) =>
      (['ours', ...BASELINES] as const).map((which) => {
        const p = r.lastRunProbes[which];
        return row([
          r.total.toLocaleString('en-US'),
          which,
          `${p.wallSeconds.toFixed(2)} s`,
          cpu(p),
          `${(p.lockWaitShare * 100).toFixed(0)} %`,
          `${p.walMegabytes.toFixed(0)} MB`,
        ]);
      }),
    ),
    ...results.flatMap((r) =>
      (['ours', r.baselineUsed] as const).flatMap((which) => {
        const statements = r.lastRunProbes[which].statements;
        if (!statements) return [];
        return [
          '',
          `Top statements, ${which === 'ours' ? 'ours' : `the ${which} baseline`}, ${r.total.toLocaleString('en-US')} cells (pg_stat_statements):`,
          '',
          '| statement | calls | total ms | mean ms | rows |',
          '|---|---|---|---|---|',
          ...statements.map((st) =>
            row([`\`${st.query.replace(/\|/g, '\\|')}…\``, String(st.calls), String(st.totalMs), String(st.meanMs), String(st.rows)]),
          ),
        ];
      }),
    ),
    ...(fps ? ['', `Page frame rate while a 1000×1000 batch paints (Chromium): ${JSON.stringify(fps)}`] : []),
  ].join('\n');
  console.log(`\n${table}\n`);
  await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
  const stamp = report.date.replace(/[:.]/g, '-');
  await writeFile(path.join(ROOT, 'bench-results', `bench-${stamp}.json`), JSON.stringify(report, null, 2));
  await writeFile(path.join(ROOT, 'bench-results', `bench-${stamp}.md`), `${table}\n`);

  socket.disconnect();
  await wire.close();
  allBaselineWorkers.forEach((w) => w.kill('SIGTERM'));
  await baselineBoss.stop({ graceful: false });
  await baselinePool.end();
  app.kill('SIGTERM');
  await new Promise((resolve) => app.once('exit', resolve));
  await admin.query('drop database if exists bench_baseline with (force)');
  await admin.end();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
}

/** One batch through the public contract: POST, join, and every event until the completion. */
async function runOurs(
  base: string,
  socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  admin: pg.Client,
  rows: number,
  cols: number,
  wire: { bytesToClients(): number },
): Promise<OursRun> {
  const sizeBefore = await databaseSize(admin);
  const keptBefore = await keptBytes(admin);
  const wireBefore = wire.bytesToClients();
  const arrivals: [number, number][] = [];
  let completedAt = 0;
  let batchId = '';
  const early: { at: number; batchId: string; n: number }[] = [];
  const onCells = (event: { batchId: string; cells: unknown[] }) => {
    const at = performance.now();
    if (batchId && event.batchId === batchId) arrivals.push([at, event.cells.length]);
    else early.push({ at, batchId: event.batchId, n: event.cells.length });
  };
  const onCompleted = (event: { batchId: string }) => {
    if (event.batchId === batchId) completedAt = performance.now();
  };
  socket.on('cells:colored', onCells);
  socket.on('batch:completed', onCompleted);

  const started = performance.now();
  const response = await fetch(`${base}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rows, cols }),
  });
  const created = performance.now();
  const batch = (await response.json()) as Batch;
  batchId = batch.id;
  const ack = await new Promise<{ ok: boolean }>((resolve) => socket.emit('batch:join', batch.id, resolve));
  const joinedAt = performance.now();
  if (!ack.ok) throw new Error('join failed');
  for (const e of early) if (e.batchId === batchId) arrivals.push([e.at, e.n]);
  await waitUntil(() => completedAt > 0, 600_000);
  socket.off('cells:colored', onCells);
  socket.off('batch:completed', onCompleted);
  socket.emit('batch:leave', batch.id);

  // Cells already painted when the join answered count as arriving with the answer.
  const seen = arrivals.reduce((n, [, k]) => n + k, 0);
  if (seen < batch.total) arrivals.push([joinedAt, batch.total - seen]);
  arrivals.sort((a, b) => a[0] - b[0]);
  return {
    toCreatedMs: created - started,
    toFirstCellMs: arrivals[0][0] - started,
    toCompletedMs: completedAt - started,
    cellsPerSecond: batch.total / ((completedAt - started) / 1000),
    latencyP50Ms: weightedPercentile(arrivals, 0.5) - created,
    latencyP99Ms: weightedPercentile(arrivals, 0.99) - created,
    dbGrowthBytes: (await databaseSize(admin)) - sizeBefore,
    wireBytesPerCell: (wire.bytesToClients() - wireBefore) / batch.total,
    keptBytes: (await keptBytes(admin)) - keptBefore,
  };
}

/**
 * The same number of jobs through a baseline: `bare` inserts them in one transaction, 5,000 a
 * statement; `reference` in chunks of 1,000, each committed as it goes (workers start on the first
 * while the rest are inserted), and is done when its fan-in counter says so.
 */
async function runBaseline(kind: BaselineKind, boss: PgBoss, pool: pg.Pool, workers: ChildProcess[], total: number): Promise<number> {
  let handled = 0;
  const onMessage = (message: { type?: string; count?: number }) => {
    if (message.type === 'handled') handled += message.count ?? 0;
  };
  workers.forEach((w) => w.on('message', onMessage));
  await pool.query('update bench_fan_in set done = 0 where id = 1');
  const jobs = (from: number, n: number) => Array.from({ length: Math.min(n, total - from) }, (_, k) => ({ data: { i: from + k } }));
  const started = performance.now();
  if (kind === 'reference') {
    for (let i = 0; i < total; i += 1000) await boss.insert(kind, jobs(i, 1000));
  } else {
    const client = await pool.connect();
    try {
      await client.query('begin');
      const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values) };
      for (let i = 0; i < total; i += 5000) await boss.insert(kind, jobs(i, 5000), { db });
      await client.query('commit');
    } finally {
      client.release();
    }
  }
  // The workers' reports say when the last handler ended; the database then confirms the last
  // completion has committed, with a query or two instead of a poll through the whole run.
  await waitUntil(() => handled >= total, 600_000, 5);
  await waitUntil(
    async () => {
      if (kind === 'reference') {
        const { rows } = await pool.query<{ done: string }>('select done from bench_fan_in where id = 1');
        return Number(rows[0]!.done) >= total;
      }
      const { rows } = await pool.query(`select 1 from pgboss.job where name = $1 and state in ('created', 'retry', 'active') limit 1`, [
        kind,
      ]);
      return rows.length === 0;
    },
    60_000,
    5,
  );
  workers.forEach((w) => w.off('message', onMessage));
  return performance.now() - started;
}

function spawnBaselineWorker(url: string, kind: BaselineKind): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/baseline-worker.ts'], {
    cwd: ROOT,
    env: { ...process.env, BASELINE_URL: url, QUEUE: kind, BASELINE: kind },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function childProcesses(pid: number): { pid: number; role: string }[] {
  return childProcessesOf(pid)
    .map((p) => ({ pid: p.pid, role: p.args.includes('workers/main.ts') ? 'worker' : p.args.includes('server.ts') ? 'web' : 'other' }))
    .filter((p) => p.role !== 'other');
}

function peakRssMb(pid: number): number | null {
  try {
    const hwm = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
    return hwm ? Math.round(Number(hwm[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * The app's tables, indexes included: what a finished batch keeps for the retention period. Its jobs
 * are not in it (pg-boss's schema: a batch's queue table is dropped once it ends), nor the Socket.IO
 * adapter's attachments, which live for seconds.
 */
async function keptBytes(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ bytes: string }>(
    `select coalesce(sum(pg_total_relation_size(c.oid)), 0) as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'socket_io_attachments'`,
  );
  return Number(rows[0]!.bytes);
}

async function databaseSize(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ size: string }>('select pg_database_size(current_database()) as size');
  return Number(rows[0].size);
}

function weightedPercentile(arrivals: [number, number][], p: number): number {
  const total = arrivals.reduce((n, [, k]) => n + k, 0);
  let seen = 0;
  for (const [at, k] of arrivals) {
    seen += k;
    if (seen >= p * total) return at;
  }
  return arrivals.at(-1)![0];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const stats = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
function summarize(runs: OursRun[]) {
  const keys = Object.keys(runs[0]) as (keyof OursRun)[];
  return Object.fromEntries(keys.map((k) => [k, stats(runs.map((r) => r[k]))])) as Record<keyof OursRun, ReturnType<typeof stats>>;
}
const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
const fmt = (s: { median: number; min: number; max: number }) => `${Math.round(s.median)} ms (${Math.round(s.min)}–${Math.round(s.max)})`;

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);
