import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { startEmbeddedPostgres, type RunningPostgres } from '../../lib/db/embedded';
import { createPool } from '../../lib/db/pool';
import { startBoss } from '../../lib/queue/boss';
import { config } from '../../lib/config';
import { cellQueueSettings, prepareDatabase } from '../../lib/queue/prepare-database';
import { expectBatchSettled, waitUntilUnderWay } from '../helpers/batch-checks';
import { quietLog, type TestDatabase } from '../helpers/db';
import { freePort } from '../../scripts/ports';
import { slowCells, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, record, startRealtime, type TestClient } from '../helpers/realtime';

// PostgreSQL itself restarts mid-batch: a server of this file's own, stopped and started again.

let dir: string;
let port: number;
let postgres: RunningPostgres;
let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let socket: TestClient;
let heard: ReturnType<typeof record>;
const workers: WorkerProcess[] = [];

const boot = () => startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port, database: 'restart' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'finishline-restart-'));
  await chmod(dir, 0o755);
  port = await freePort();
  postgres = await boot();
  const pool = createPool(postgres.url, 10, quietLog, 'finish-line-test');
  await prepareDatabase(pool, postgres.url, quietLog, cellQueueSettings(config()));
  const boss = startBoss(postgres.url, 'producer', quietLog, 4);
  db = { url: postgres.url, pool, boss: () => boss, drop: async () => undefined };
  realtime = await startRealtime(pool, postgres.url);
  socket = await connectClient(realtime.url);
  heard = record(socket);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  socket?.disconnect();
  await realtime?.close();
  await (await db?.boss())?.stop({ graceful: false });
  await db?.pool.end();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('PostgreSQL restart mid-batch', () => {
  it('keeps every process running; all reconnect and the batch completes with every cell', async () => {
    workers.push(startWorker(postgres.url, 'w-1', slowCells(100)), startWorker(postgres.url, 'w-2', slowCells(100)));
    const { batch } = await startBatch(
      { pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 },
      { rows: 40, cols: 50 },
    );
    expect((await join(socket, batch.id, heard)).ok).toBe(true);
    await waitUntilUnderWay(db, batch.id);

    // A fan-out caught by the restart fails as a whole (its transaction dies); it must not take
    // the process down with it.
    const caught = startBatch(
      { pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 },
      { rows: 300, cols: 300 },
    ).then(
      () => 'committed',
      () => 'failed',
    );

    // Three restarts in a row: every reconnect path must work more than once.
    const stoppedAt = Date.now();
    for (let i = 0; i < 3; i++) {
      await postgres.stop();
      postgres = await boot();
    }
    const restartedAt = Date.now();
    expect(['committed', 'failed']).toContain(await caught);

    // Events sent while the web server's LISTEN connection was down are not replayed (yet), so the
    // client may have missed some cells; everything else must hold.
    const settled = await expectBatchSettled(
      db,
      batch.id,
      { socket, heard },
      { status: 'completed', done: 2000, failed: 0 },
      { seenAll: false },
    );
    for (const worker of workers) expect(worker.proc.exitCode).toBeNull();
    expect(Date.parse(settled.finishedAt!) - restartedAt).toBeLessThan(60_000);
    expect(restartedAt - stoppedAt).toBeLessThan(20_000);

    // The live channel is whole again: a new batch reaches the viewer cell by cell.
    const { batch: after } = await startBatch(
      { pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 },
      { rows: 10, cols: 10 },
    );
    expect((await join(socket, after.id, heard)).ok).toBe(true);
    await expectBatchSettled(db, after.id, { socket, heard }, { status: 'completed', done: 100 });
  });
});
