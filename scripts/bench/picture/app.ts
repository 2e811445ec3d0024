import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { io as connect, type Socket } from 'socket.io-client';
import { createLogger } from '../../../lib/log';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../lib/realtime/events';
import { buildIfNeeded } from '../../build-if-needed';
import { childProcessesOf } from '../../child-process';
import { freePort } from '../../ports';
import type { Track } from './cleanup';
import { ROOT } from './constants';
import { type AppProcess, statFields } from './cpu';
import { BenchError } from './errors';
import { log, secs } from './format';
import type { WaitUntil } from './wait';

/**
 * The app under test, started as `npm start` starts it (scripts/start.ts) and stopped as Ctrl-C
 * would stop it: pages built first; up once /healthz answers and every worker has registered; with
 * a database connection and a Socket.IO client for the bench.
 */

const APP_START_TIMEOUT_MS = 420_000; // a first `next build` on 2 cores included

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
  const mine = [...new Map([...known, ...live].map((p) => [p.pid, { ...p, started: startTime(p.pid) }])).values()].filter(
    (p) => p.started !== null,
  );
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

/**
 * `next build` when the pages are stale, before the app starts (start.ts would run it too). Another
 * build in this checkout at the same time (a test run's) makes ours fail; wait and try again.
 */
export async function buildPages(deadline: number): Promise<void> {
  const buildLog = createLogger({ proc: 'bench-picture' }, 'warn');
  for (let attempt = 1; ; attempt++) {
    try {
      await buildIfNeeded(buildLog);
      return;
    } catch (err) {
      if (attempt >= 5 || Date.now() + 20_000 > deadline)
        throw new BenchError(`next build failed ${attempt} times; another build may be running in this checkout`, { cause: err });
      log(`next build failed (another \`next build\` may be running in this checkout); trying again in 20 s (attempt ${attempt + 1} of 5)`);
      await sleep(20_000);
    }
  }
}

/** The app may fail to start because someone else's `next build` raced ours: then once more. */
export async function startAppWithRetry(workers: number, databaseUrl: string, track: Track, waitUntil: WaitUntil): Promise<App> {
  try {
    return await startApp(workers, databaseUrl, track, waitUntil);
  } catch (err) {
    if (!(err instanceof BenchError) || !/before it was up/.test(err.message)) throw err;
    log(`${err.message}; trying once more in 20 s`);
    await sleep(20_000);
    return startApp(workers, databaseUrl, track, waitUntil);
  }
}

export async function startApp(workers: number, databaseUrl: string, track: Track, waitUntil: WaitUntil): Promise<App> {
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
