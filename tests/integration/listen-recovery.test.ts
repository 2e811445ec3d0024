import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { startEmbeddedPostgres, type RunningPostgres } from '../../lib/db/embedded';
import { createPool } from '../../lib/db/pool';
import { startBoss } from '../../lib/queue/boss';
import { config } from '../../lib/config';
import { cellQueueSettings, prepareDatabase } from '../../lib/queue/prepare-database';
import { freePort } from '../../scripts/ports';
import { expectBatchSettled, waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, quietLog, waitFor, type TestDatabase } from '../helpers/db';
import { slowCells, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, record, startRealtime, type TestClient } from '../helpers/realtime';

// A plain v1 client joins once and listens; its own socket never drops. Whatever happens to its web
// server's LISTEN connection, it must end holding every cell and exactly one completion: the web
// server replays, by sequence number, what it may have missed.

let workers: WorkerProcess[] = [];
const sockets: TestClient[] = [];

afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  workers = [];
});

async function plainClient(url: string) {
  const socket = await connectClient(url);
  sockets.push(socket);
  return { socket, heard: record(socket) };
}

/** The web server's LISTEN connection, once it is listening (its last statement a LISTEN, now idle). */
async function listener(db: TestDatabase): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ pid: number }>(
    `select pid from pg_stat_activity
      where application_name = 'finish-line-socket-io' and datname = current_database() and state = 'idle' and query ilike 'LISTEN%'`,
  );
  return rows[0]?.pid;
}

const start = async (db: TestDatabase, rows: number, cols: number) =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows, cols })).batch;

describe('the web server loses its LISTEN connection (pg_terminate_backend)', () => {
  let db: TestDatabase;
  let realtime: Awaited<ReturnType<typeof startRealtime>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    realtime = await startRealtime(db.pool, db.url);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    await realtime?.close();
    await db?.drop();
  });

  it('a plain client that never rejoins still ends with every cell and one completion, twice in a row', async () => {
    workers.push(startWorker(db.url, 'w-1', slowCells(40)), startWorker(db.url, 'w-2', slowCells(40)));
    const batch = await start(db, 60, 100);
    const watcher = await plainClient(realtime.url);
    expect((await join(watcher.socket, batch.id, watcher.heard)).ok).toBe(true);
    for (const mark of [300, 2500]) {
      await waitUntilUnderWay(db, batch.id, mark);
      // The second time, once the adapter has listened again.
      const pid = await waitFor(() => listener(db), 'the adapter to listen');
      await db.pool.query('select pg_terminate_backend($1)', [pid]);
    }
    // The check's own marker travels through LISTEN too: it must be listening again first.
    await waitFor(() => listener(db), 'the adapter to listen again');
    await expectBatchSettled(db, batch.id, watcher, { status: 'completed', done: 6000, failed: 0 });
  });
});

describe('PostgreSQL crash-restart (kill -9 of one of its backends)', () => {
  let dir: string;
  let postgres: RunningPostgres;
  let db: TestDatabase;
  let realtime: Awaited<ReturnType<typeof startRealtime>>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'finishline-crash-'));
    await chmod(dir, 0o755);
    postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port: await freePort(), database: 'crash' });
    const pool = createPool(postgres.url, 10, quietLog, 'finish-line-test');
    await prepareDatabase(pool, postgres.url, quietLog, cellQueueSettings(config()));
    const boss = startBoss(postgres.url, 'producer', quietLog, 4);
    db = { url: postgres.url, pool, boss: () => boss, drop: async () => undefined };
    realtime = await startRealtime(pool, postgres.url);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    await realtime?.close();
    await (await db?.boss())?.stop({ graceful: false });
    await db?.pool.end();
    await postgres?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** SIGKILLs one backend: the postmaster then ends every other backend and restarts. Resolves once it accepts connections again. */
  async function crashRestart(): Promise<number> {
    const victim = new pg.Client({ connectionString: postgres.url });
    victim.on('error', () => undefined);
    await victim.connect();
    const { rows } = await victim.query<{ pid: number }>('select pg_backend_pid() as pid');
    process.kill(rows[0].pid, 'SIGKILL');
    // Wait for the crash to be under way (our own connection dies with it), then for the restart.
    await waitFor(
      () =>
        victim.query('select 1').then(
          () => false,
          () => true,
        ),
      'the crash to end every backend',
    );
    await waitFor(async () => {
      const probe = new pg.Client({ connectionString: postgres.url });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.query('select 1');
        return true;
      } catch {
        return false;
      } finally {
        await probe.end().catch(() => undefined);
      }
    }, 'PostgreSQL to accept connections again');
    return Date.now();
  }

  it('a plain client ends with every cell and one completion; the batch completes within 20 s of PostgreSQL being back', async () => {
    workers.push(startWorker(postgres.url, 'w-1', slowCells(20)), startWorker(postgres.url, 'w-2', slowCells(20)));
    const batch = await start(db, 100, 100);
    const watcher = await plainClient(realtime.url);
    expect((await join(watcher.socket, batch.id, watcher.heard)).ok).toBe(true);
    await waitUntilUnderWay(db, batch.id, 7000);
    const backAt = await crashRestart();
    // The check's own marker travels through LISTEN too: it must be listening again first.
    await waitFor(() => listener(db), 'the adapter to listen again');
    const settled = await expectBatchSettled(db, batch.id, watcher, { status: 'completed', done: 10_000, failed: 0 });
    const tookMs = Date.parse(settled.finishedAt!) - backAt;
    console.log(`PostgreSQL back to the batch completed: ${tookMs} ms; the client holds ${watcher.heard.cells.size} cells`);
    expect(tookMs).toBeLessThan(20_000);
    for (const worker of workers) expect(worker.proc.exitCode).toBeNull();
  });
});
