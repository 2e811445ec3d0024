import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io as connect, type Socket } from 'socket.io-client';
import { config } from '../lib/config';
import { startEmbeddedPostgres, type RunningPostgres } from '../lib/db/embedded';
import { createPool } from '../lib/db/pool';
import { createLogger } from '../lib/log';
import type { ClientToServerEvents, ServerToClientEvents } from '../lib/realtime/events';
import { cellQueueSettings, prepareDatabase } from '../lib/queue/prepare-database';
import type { Batch } from '../lib/types';
import { buildIfNeeded } from './build-if-needed';
import { diagnoseStuck, summarise } from './chaos-report';
import { Child } from './child-process';
import { freePort } from './ports';

/**
 * `npm run chaos`: the app as it runs — web servers (with their fan-out resumer and deadline
 * sweeper) and workers, each a real process restarted when it dies, on an embedded PostgreSQL —
 * driven only through the public contract (POST /api/batches, Socket.IO viewers), while workers
 * are killed and frozen, web servers killed and PostgreSQL restarted at random. When the faults
 * stop it waits for every batch to end and checks, against the database, that no cell was lost,
 * failed or painted twice and that each viewer heard every completion once; a batch that never
 * ends is reported with why (its status, how far its fan-out got, its jobs by state).
 */
const { values: args } = parseArgs({
  options: {
    cells: { type: 'string', default: '1000000' },
    minutes: { type: 'string', default: '20' },
    workers: { type: 'string', default: '4' },
    webs: { type: 'string', default: '2' },
    rows: { type: 'string', default: '200' },
    cols: { type: 'string', default: '250' },
    'settle-minutes': { type: 'string', default: '5' },
  },
});
const target = Number(args.cells);
const deadline = Date.now() + Number(args.minutes) * 60_000;
const log = createLogger({ proc: 'chaos' }, 'info');
const cfg = config();
const rand = (min: number, max: number) => min + Math.random() * (max - min);
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Viewer = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A plain contract client on one web server: joins each batch, rejoins after a reconnect. */
function startViewer(port: number) {
  const cells = new Map<string, Map<number, string>>();
  const completions = new Map<string, number>();
  const cols = new Map<string, number>();
  let doublePainted = 0;
  const socket: Viewer = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnectionDelayMax: 1000 });
  const merge = (batchId: string, list: { row: number; col: number; color: string }[]) => {
    const seen = cells.get(batchId)!;
    const width = cols.get(batchId)!;
    for (const c of list) {
      const before = seen.get(c.row * width + c.col);
      if (before !== undefined && before !== c.color) doublePainted++;
      seen.set(c.row * width + c.col, c.color);
    }
  };
  // A join refused for now (rate_limited, unavailable while PostgreSQL restarts) is tried again, as
  // a careful client does; one lost with its socket is sent again on the reconnect.
  const join = (batchId: string): void => {
    socket.emit('batch:join', batchId, (ack) => {
      if (ack.ok) merge(batchId, ack.cells);
      else if (socket.connected) setTimeout(() => join(batchId), 1000);
    });
  };
  socket.on('cells:colored', (event) => cells.has(event.batchId) && merge(event.batchId, event.cells));
  socket.on('batch:completed', (event) => completions.set(event.batchId, (completions.get(event.batchId) ?? 0) + 1));
  socket.io.on('reconnect', () => cells.forEach((_, id) => join(id)));
  return {
    follow(batch: Batch) {
      cells.set(batch.id, new Map());
      cols.set(batch.id, batch.cols);
      join(batch.id);
    },
    seen: (batchId: string) => cells.get(batchId) ?? new Map<number, string>(),
    completions: (batchId: string) => completions.get(batchId) ?? 0,
    doublePainted: () => doublePainted,
    close: () => socket.disconnect(),
  };
}

async function main() {
  await buildIfNeeded(log);
  // Our own embedded server, so that it can be restarted; DATABASE_URL runs without restarts.
  let postgres: RunningPostgres | undefined;
  let dir: string | undefined;
  let restartPostgres: (() => Promise<void>) | undefined;
  let databaseUrl = cfg.databaseUrl;
  if (!databaseUrl) {
    dir = await mkdtemp(path.join(tmpdir(), 'finishline-chaos-'));
    await chmod(dir, 0o755);
    const port = await freePort();
    const boot = () => startEmbeddedPostgres({ dataDir: path.join(dir!, 'pg'), port, database: 'chaos' });
    postgres = await boot();
    databaseUrl = postgres.url;
    restartPostgres = async () => {
      await postgres!.stop();
      postgres = await boot();
    };
  } else {
    log.warn('DATABASE_URL is set: PostgreSQL restarts are skipped (only an embedded server can be restarted)');
  }
  const pool = createPool(databaseUrl, 4, log, 'finish-line-chaos', undefined, cfg.dbSessionTimeouts);
  await prepareDatabase(pool, databaseUrl, log, cellQueueSettings(cfg));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'production',
    LOG_LEVEL: 'error',
    HOST: '127.0.0.1',
    BATCHES_PER_MINUTE: '1000000',
    RUNNING_BATCHES_PER_CLIENT: '1000000',
  };
  const webPorts = await Promise.all(Array.from({ length: Number(args.webs) }, () => freePort()));
  const webs = webPorts.map(
    (port) => new Child({ name: `web :${port}`, entry: 'server.ts', env: { ...env, PORT: String(port) }, restart: true, log }),
  );
  const workers = Array.from(
    { length: Number(args.workers) },
    (_, i) =>
      new Child({ name: `worker w-${i + 1}`, entry: 'workers/main.ts', env: { ...env, WORKER_ID: `w-${i + 1}` }, restart: true, log }),
  );
  const everyone = [...webs, ...workers];
  // A frozen process cannot notice that we died; never leave one behind, whatever ends this run.
  process.on('exit', () => everyone.forEach((c) => (c.signal('SIGCONT'), c.signal('SIGKILL'))));
  webs.forEach((w) => w.start());
  await Promise.all(webs.map((w) => w.waitFor((m) => ((m as { type?: string }).type === 'listening' ? true : undefined))));
  workers.forEach((w) => w.start());
  const viewers = webPorts.map(startViewer);

  /** POST /api/batches to a web server that answers; retried while servers or PostgreSQL restart. */
  const startBatch = async (): Promise<Batch | null> => {
    const port = pick(webPorts);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: Number(args.rows), cols: Number(args.cols), deadlineSeconds: 3600 }),
        signal: AbortSignal.timeout(60_000),
      });
      if (res.status === 201) return (await res.json()) as Batch;
      log.warn('chaos: POST /api/batches refused', { status: res.status, body: (await res.text()).slice(0, 300) });
    } catch (err) {
      log.warn('chaos: POST /api/batches failed (a web server or PostgreSQL restarting?)', { port, err });
    }
    await sleep(1000);
    return null;
  };

  const faults = { workerKill: 0, workerFreeze: 0, webKill: 0, postgres: 0 };
  const recoveries: Record<string, number[]> = { workerKill: [], workerFreeze: [], webKill: [], postgres: [] };
  let stopChaos = false;
  let lastPostgresRestart = Date.now();
  const chaos = (async () => {
    while (!stopChaos) {
      await sleep(rand(3000, 8000));
      if (stopChaos) break;
      const roll = Math.random();
      const started = Date.now();
      if (restartPostgres && roll < 0.15 && Date.now() - lastPostgresRestart > 45_000) {
        faults.postgres++;
        lastPostgresRestart = Date.now();
        log.info('chaos: restarting PostgreSQL');
        await restartPostgres();
        recoveries.postgres.push(Date.now() - started);
      } else if (roll < 0.3) {
        faults.webKill++;
        const web = pick(webs);
        log.info('chaos: SIGKILL web server', { pid: web.pid });
        web.signal('SIGKILL');
      } else if (roll < 0.65) {
        faults.workerKill++;
        const worker = pick(workers);
        log.info('chaos: SIGKILL worker', { pid: worker.pid });
        worker.signal('SIGKILL');
      } else {
        faults.workerFreeze++;
        const worker = pick(workers);
        log.info('chaos: SIGSTOP worker', { pid: worker.pid });
        worker.signal('SIGSTOP');
        setTimeout(() => worker.signal('SIGCONT'), rand(5000, 15000));
      }
    }
  })();

  // Keep three batches in flight until enough cells were started or time is up.
  const batches: Batch[] = [];
  let started = 0;
  const isRunning = async (b: Batch) => {
    const { rows } = await pool
      .query<{ status: string }>('select status from batches where id = $1', [b.id])
      .catch(() => ({ rows: [{ status: 'running' }] }));
    return rows[0]?.status === 'running';
  };
  while (started < target && Date.now() < deadline) {
    const running = (await Promise.all(batches.map(isRunning))).filter(Boolean).length;
    if (running >= 3) {
      await sleep(500);
      continue;
    }
    const batch = await startBatch();
    if (!batch) continue;
    batches.push(batch);
    viewers.forEach((v) => v.follow(batch));
    started += batch.total;
    log.info('chaos: batch started', { batchId: batch.id, started, target });
  }

  stopChaos = true;
  await chaos;
  everyone.forEach((c) => c.signal('SIGCONT'));
  const faultsEnded = Date.now();
  log.info('chaos: faults stopped; waiting for every batch to end');
  const settleBy = Date.now() + Number(args['settle-minutes']) * 60_000;
  while (Date.now() < settleBy && (await Promise.all(batches.map(isRunning))).some(Boolean)) await sleep(1000);
  const settledMs = Date.now() - faultsEnded;

  // What the database holds, against what each viewer heard.
  const { rows: ended } = await pool.query<{ id: string; status: string; total: number; done: number; failed: number }>(
    'select id, status, total, done, failed from batches where id = any($1)',
    [batches.map((b) => b.id)],
  );
  const lastViewerEvent = Date.now() + 15_000;
  /** Per viewer and completed batch, the finished cells the viewer does not hold. */
  const missing = async () => {
    const gaps: { batchId: string; viewerPort: number; missing: number }[] = [];
    for (const b of ended.filter((e) => e.status === 'completed')) {
      const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from cells where batch_id = $1', [b.id]);
      viewers.forEach((v, i) => {
        const n = rows[0].n - v.seen(b.id).size;
        if (n > 0) gaps.push({ batchId: b.id, viewerPort: webPorts[i], missing: n });
      });
    }
    return gaps;
  };
  // Events still in flight when the last batch ended reach the viewers a moment later.
  let viewerGaps = await missing();
  while (viewerGaps.length > 0 && Date.now() < lastViewerEvent) {
    await sleep(500);
    viewerGaps = await missing();
  }
  const viewerMissing = viewerGaps.reduce((n, g) => n + g.missing, 0);
  const stuck = await diagnoseStuck(pool, batches);
  const report = {
    batches: batches.length,
    webServers: webs.length,
    workers: workers.length,
    cellsProcessed: ended.reduce((n, b) => n + b.done + b.failed, 0),
    cellsLost: ended.filter((b) => b.status === 'completed').reduce((n, b) => n + (b.total - b.done - b.failed), 0),
    cellsFailed: ended.reduce((n, b) => n + b.failed, 0),
    cellsMissedByViewers: viewerMissing,
    viewerGaps,
    cellsDoublePainted: viewers.reduce((n, v) => n + v.doublePainted(), 0),
    completionsHeardTwice: batches.reduce((n, b) => n + viewers.filter((v) => v.completions(b.id) > 1).length, 0),
    batchesStuck: stuck.length,
    stuck,
    faults,
    settledAfterFaultsMs: settledMs,
    postgresRestartMs: summarise(recoveries.postgres),
  };
  console.log(JSON.stringify(report, null, 2));
  await mkdir('bench-results', { recursive: true });
  const file = path.join('bench-results', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2));
  log.info('chaos: report written', { file });

  viewers.forEach((v) => v.close());
  await Promise.all(everyone.map((c) => c.stop(20_000)));
  await pool.end();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  const ok =
    report.cellsLost === 0 &&
    report.cellsFailed === 0 &&
    report.cellsMissedByViewers === 0 &&
    report.cellsDoublePainted === 0 &&
    report.batchesStuck === 0 &&
    report.completionsHeardTwice === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  log.error('chaos run failed', { err });
  process.exit(1);
});
