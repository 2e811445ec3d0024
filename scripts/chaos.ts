import { mkdir, mkdtemp, chmod, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io as connect } from 'socket.io-client';
import { startBatch } from '../lib/batches/start-batch';
import { config } from '../lib/config';
import { findBatch } from '../lib/db/batches';
import { startEmbeddedPostgres, type RunningPostgres } from '../lib/db/embedded';
import { createPool } from '../lib/db/pool';
import { createLogger } from '../lib/log';
import { startBoss } from '../lib/queue/boss';
import type { ClientToServerEvents, ServerToClientEvents } from '../lib/realtime/events';
import { attachRealtime } from '../lib/realtime/server';
import { prepareDatabase } from '../lib/setup';
import type { Batch } from '../lib/types';
import { Child } from './child-process';

/**
 * `npm run chaos`: runs batches while killing, freezing and restarting workers and PostgreSQL at
 * random, until enough cells were processed or time runs out, then checks that nothing was lost or
 * painted twice and reports how long the system took to recover from each fault.
 */
const { values: args } = parseArgs({
  options: {
    cells: { type: 'string', default: '1000000' },
    minutes: { type: 'string', default: '20' },
    workers: { type: 'string', default: '4' },
    rows: { type: 'string', default: '200' },
    cols: { type: 'string', default: '250' },
  },
});
const target = Number(args.cells);
const deadline = Date.now() + Number(args.minutes) * 60_000;
const log = createLogger({ proc: 'chaos' }, 'info');
const cfg = config();
const rand = (min: number, max: number) => min + Math.random() * (max - min);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  // PostgreSQL: our own embedded server (so it can be restarted), or DATABASE_URL without restarts.
  let postgres: RunningPostgres | undefined;
  let dir: string | undefined;
  let restartPostgres: (() => Promise<void>) | undefined;
  let url = cfg.databaseUrl;
  if (!url) {
    dir = await mkdtemp(path.join(tmpdir(), 'finishline-chaos-'));
    await chmod(dir, 0o755);
    const port = 54000 + Math.floor(Math.random() * 900);
    const boot = () => startEmbeddedPostgres({ dataDir: path.join(dir!, 'pg'), port, database: 'chaos' });
    postgres = await boot();
    url = postgres.url;
    restartPostgres = async () => {
      await postgres!.stop();
      postgres = await boot();
    };
  } else {
    log.warn('DATABASE_URL is set: PostgreSQL restarts are skipped (only an embedded server can be restarted)');
  }
  const databaseUrl = url;
  const pool = createPool(databaseUrl, 10, log, 'finish-line-chaos');
  await prepareDatabase(pool, databaseUrl, log);
  const boss = await startBoss(databaseUrl, 'producer', log, 4);
  const http = createServer();
  // One viewer socket follows every batch of the run and rejoins them all after each reconnect.
  const realtime = attachRealtime(http, { pool, connectionString: databaseUrl }, log, { joinLimits: { burst: 10_000, maxBatches: 10_000 } });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const socketPort = typeof address === 'object' && address ? address.port : 0;

  // What a viewer sees: every colour per cell, and every completion.
  const seen = new Map<string, string>();
  let doublePainted = 0;
  const completions = new Map<string, number>();
  const client = connect(`http://127.0.0.1:${socketPort}`, { transports: ['websocket'], autoConnect: false }) as import('socket.io-client').Socket<
    ServerToClientEvents,
    ClientToServerEvents
  >;
  client.on('cells:colored', (event) => {
    for (const c of event.cells) {
      const key = `${event.batchId}:${c.row}:${c.col}`;
      const before = seen.get(key);
      if (before && before !== c.color) doublePainted++;
      seen.set(key, c.color);
    }
  });
  client.on('batch:completed', (event) => completions.set(event.batchId, (completions.get(event.batchId) ?? 0) + 1));
  const joined = new Set<string>();
  client.on('connect', () => joined.forEach((id) => client.emit('batch:join', id, () => undefined)));
  client.connect();

  const workers = Array.from({ length: Number(args.workers) }, (_, i) => {
    const child = new Child({
      name: `worker w-${i + 1}`,
      entry: 'workers/main.ts',
      env: { ...process.env, DATABASE_URL: databaseUrl, WORKER_ID: `w-${i + 1}`, LOG_LEVEL: 'error', NODE_ENV: 'production' },
      restart: true,
      log,
    });
    child.start();
    return child;
  });

  // A frozen worker cannot notice that we died; never leave one behind, whatever ends this run.
  process.on('exit', () => workers.forEach((w) => (w.signal('SIGCONT'), w.signal('SIGKILL'))));

  const recoveries: Record<string, number[]> = { kill: [], freeze: [], postgres: [] };
  const pendingRecoveries: Promise<void>[] = [];
  // Recovery: from the fault until every job that was active at that moment has settled.
  const trackRecovery = async (kind: string, started: number) => {
    const { rows } = await pool.query<{ id: string }>(`select id from pgboss.job where name = 'cell' and state = 'active'`).catch(() => ({ rows: [] as { id: string }[] }));
    const ids = rows.map((r) => r.id);
    pendingRecoveries.push(
      (async () => {
        for (;;) {
          await sleep(250);
          const { rows: left } = await pool
            .query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = 'cell' and id = any($1) and state in ('created', 'retry', 'active')`, [ids])
            .catch(() => ({ rows: [{ n: 1 }] }));
          if (left[0].n === 0) return void recoveries[kind].push(Date.now() - started);
          if (Date.now() > deadline + 600_000) return;
        }
      })(),
    );
  };

  let stopChaos = false;
  let lastPostgresRestart = Date.now();
  const faults = { kill: 0, freeze: 0, postgres: 0 };
  const chaos = (async () => {
    while (!stopChaos) {
      await sleep(rand(3000, 8000));
      if (stopChaos) break;
      const roll = Math.random();
      const worker = workers[Math.floor(Math.random() * workers.length)];
      const started = Date.now();
      if (restartPostgres && roll < 0.2 && Date.now() - lastPostgresRestart > 45_000) {
        faults.postgres++;
        lastPostgresRestart = Date.now();
        await trackRecovery('postgres', started);
        log.info('chaos: restarting postgres');
        await restartPostgres();
      } else if (roll < 0.6) {
        faults.kill++;
        await trackRecovery('kill', started);
        log.info('chaos: SIGKILL', { pid: worker.pid });
        worker.signal('SIGKILL');
      } else {
        faults.freeze++;
        await trackRecovery('freeze', started);
        log.info('chaos: SIGSTOP', { pid: worker.pid });
        worker.signal('SIGSTOP');
        const frozen = worker;
        setTimeout(() => frozen.signal('SIGCONT'), rand(5000, 15000));
      }
    }
  })();

  // Keep three batches in flight until enough cells have been started or time is up.
  const batches: Batch[] = [];
  let started = 0;
  while (started < target && Date.now() < deadline) {
    const running = (await Promise.all(batches.map((b) => findBatch(pool, b.id).catch(() => null)))).filter((b) => b?.status === 'running').length;
    if (running >= 3) {
      await sleep(500);
      continue;
    }
    try {
      const { batch } = await startBatch(
        { pool, boss, chunkSize: 5000, defaultDeadlineSeconds: 3600 },
        { rows: Number(args.rows), cols: Number(args.cols) },
      );
      batches.push(batch);
      joined.add(batch.id);
      client.emit('batch:join', batch.id, () => undefined);
      started += batch.total;
      log.info('chaos: batch started', { batchId: batch.id, started, target });
    } catch (err) {
      log.warn('chaos: could not start a batch (PostgreSQL restarting?)', { err });
      await sleep(1000);
    }
  }

  stopChaos = true;
  await chaos;
  workers.forEach((w) => w.signal('SIGCONT'));
  log.info('chaos: faults stopped; waiting for every batch to end');
  const settleBy = Date.now() + 300_000;
  let final: (Batch | null)[] = [];
  for (;;) {
    final = await Promise.all(batches.map((b) => findBatch(pool, b.id).catch(() => null)));
    if (final.every((b) => b && b.status !== 'running') || Date.now() > settleBy) break;
    await sleep(1000);
  }
  await Promise.race([Promise.all(pendingRecoveries), sleep(60_000)]);

  const ended = final.filter((b): b is Batch => b !== null);
  const { rows: reruns } = await pool.query<{ reruns: number }>(
    `select coalesce(sum(retry_count), 0)::int as reruns from pgboss.job where name = 'cell' and (data->>'batchId') = any($1)`,
    [batches.map((b) => b.id)],
  );
  const percentile = (values: number[], p: number) => {
    if (values.length === 0) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  };
  const report = {
    batches: batches.length,
    cellsProcessed: ended.reduce((n, b) => n + b.done + b.failed, 0),
    cellsLost: ended.filter((b) => b.status === 'completed').reduce((n, b) => n + (b.total - b.done - b.failed), 0),
    cellsFailed: ended.reduce((n, b) => n + b.failed, 0),
    cellsDoublePainted: doublePainted,
    duplicateExecutionsAbsorbed: reruns[0].reruns,
    batchesStuck: final.filter((b) => !b || b.status === 'running').length,
    completionsHeardTwice: [...completions.values()].filter((n) => n > 1).length,
    faults,
    recoveryMs: Object.fromEntries(
      Object.entries(recoveries).map(([kind, values]) => [kind, { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99), max: percentile(values, 100) }]),
    ),
  };
  console.log(JSON.stringify(report, null, 2));
  await mkdir('bench-results', { recursive: true });
  const file = path.join('bench-results', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, JSON.stringify(report, null, 2));
  log.info('chaos: report written', { file });

  client.disconnect();
  await Promise.all(workers.map((w) => w.stop(5000)));
  await realtime.close();
  await boss.stop({ graceful: false });
  await pool.end();
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  const ok = report.cellsLost === 0 && report.cellsDoublePainted === 0 && report.batchesStuck === 0 && report.completionsHeardTwice === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((err: unknown) => {
  log.error('chaos run failed', { err });
  process.exit(1);
});
