import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { createPool } from '../../lib/db/pool';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, quietLog, type TestDatabase, waitFor } from '../helpers/db';
import { postBatch } from '../helpers/http';
import { slowCells, startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

// The pools cannot be drained: fan-outs run on their own small pool, refused creations answer at
// once without queueing on a lock, and every session has server-side time limits, so a process
// frozen inside a transaction holds its locks only until PostgreSQL ends its session.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let db: TestDatabase;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  await db?.drop();
});

describe('session time limits', () => {
  it('every pool sets idle_in_transaction_session_timeout and lock_timeout, and a caller may override them', async () => {
    const defaults = createPool(db.url, 1, quietLog, 'finish-line-test-limits');
    const custom = createPool(db.url, 1, quietLog, 'finish-line-test-limits', '-c idle_in_transaction_session_timeout=20000', {
      idleInTransactionMs: 3000,
      lockMs: 0,
    });
    try {
      const show = async (pool: typeof defaults) =>
        (
          await pool.query<{ idle: string; lock: string }>(
            `select current_setting('idle_in_transaction_session_timeout') as idle, current_setting('lock_timeout') as lock`,
          )
        ).rows[0];
      expect(await show(defaults)).toEqual({ idle: '15s', lock: '5s' });
      expect(await show(custom)).toEqual({ idle: '20s', lock: '0' });
    } finally {
      await Promise.all([defaults.end(), custom.end()]);
    }
  });
});

describe('a drained pool', () => {
  it('/healthz stays 200 and prompt while big fan-outs run and a burst of POSTs is refused at once', { timeout: 240_000 }, async () => {
    const port = await freePort();
    // A pool of 3 per web server, 2 fan-out connections, and small chunks so each fan-out takes seconds.
    const server = await startWebServer(db.url, port, {
      DB_POOL_SIZE: '3',
      FANOUT_POOL_SIZE: '2',
      FANOUT_CHUNK_SIZE: '100',
      TRUST_PROXY: '1',
      BATCHES_PER_MINUTE: '3',
      RUNNING_BATCHES_PER_CLIENT: '1000',
    });
    processes.push(server);
    const base = `http://127.0.0.1:${port}`;

    // Four 90,000-cell batches from four clients: more fan-outs than the request pool has connections.
    const big = await Promise.all(
      [1, 2, 3, 4].map((n) => postBatch(base, { rows: 300, cols: 300 }, { 'x-forwarded-for': `198.51.100.${n}` })),
    );
    expect(big.map((a) => a.status)).toEqual([201, 201, 201, 201]);
    const bigIds = big.map((a) => a.body.id as string);
    const fanningOut = async () =>
      (await Promise.all(bigIds.map((id) => findBatch(db.pool, id)))).filter((b) => b!.enqueued < b!.total).length;
    expect(await fanningOut()).toBeGreaterThan(0);

    // While they fan out: 30 parallel POSTs of one client allowed 3 a minute, and /healthz probes.
    let maxFanOutConnections = 0;
    const burst = Promise.all(
      Array.from({ length: 30 }, async () => {
        const started = performance.now();
        const answer = await postBatch(base, { rows: 1, cols: 1 }, { 'x-forwarded-for': '203.0.113.50' });
        return { status: answer.status, code: answer.body?.error?.code as string | undefined, ms: performance.now() - started };
      }),
    );
    const probes: { status: number; ms: number }[] = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      const status = await fetch(`${base}/healthz`).then((r) => r.status);
      probes.push({ status, ms: performance.now() - started });
      const { rows } = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where application_name = 'finish-line-api-fanout'`,
      );
      maxFanOutConnections = Math.max(maxFanOutConnections, rows[0].n);
    }
    const answers = await burst;
    const stillFanningOut = await fanningOut();

    for (const probe of probes) {
      expect(probe.status).toBe(200);
      expect(probe.ms).toBeLessThan(2000);
    }
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.length).toBeLessThanOrEqual(3);
    for (const answer of refused) {
      expect(answer).toMatchObject({ status: 429, code: 'rate_limited' });
      // Refused at once: no queue on the client's lock, no wait for a pooled connection.
      expect(answer.ms).toBeLessThan(2500);
    }
    expect(maxFanOutConnections).toBeLessThanOrEqual(2);
    // The probes ran while fan-outs were still going, or they proved nothing.
    expect(stillFanningOut).toBeGreaterThan(0);
    console.log(
      `healthz p100 ${Math.max(...probes.map((p) => p.ms)).toFixed(0)} ms, slowest 429 ${Math.max(...refused.map((a) => a.ms)).toFixed(0)} ms, ` +
        `${stillFanningOut} fan-outs still running after the probes, at most ${maxFanOutConnections} fan-out connections`,
    );

    // Fan-outs that found the fan-out pool full were left to the resumer; every one finishes.
    await waitFor(async () => (await fanningOut()) === 0, 'every fan-out to finish', 180_000);
    await server.stop();
  });
});

describe('a process frozen inside a transaction', () => {
  it('holding a batch row lock under SIGSTOP stalls the workers only until its session times out', { timeout: 120_000 }, async () => {
    const worker = startWorker(db.url, 'w-frozen-test', slowCells(5));
    processes.push(worker);
    const deps = { pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 };
    // Ahead of the queued jobs the drain test left behind.
    const { batch } = await startBatch(deps, { rows: 100, cols: 50, priority: 100 });
    await waitFor(async () => ((await findBatch(db.pool, batch.id))?.done ?? 0) > 0, 'the worker to paint', 60_000);

    const IDLE_LIMIT_MS = 3000;
    const holder = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/hold-batch-lock.ts', batch.id], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: String(IDLE_LIMIT_MS), LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    processes.push({ id: 'holder', proc: holder, output: () => '', stop: async (signal = 'SIGKILL') => void holder.kill(signal) });
    const holderPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      holder.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /locked (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      holder.once('exit', () => reject(new Error('the lock holder exited')));
    });
    const lockedAt = performance.now();
    holder.kill('SIGSTOP');

    // The worker does reach the lock and wait on it: the stall is real.
    await waitFor(
      async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where application_name like 'finish-line-worker%' and wait_event_type = 'Lock'`,
        );
        return rows[0].n > 0;
      },
      'a worker to wait on the frozen lock',
      IDLE_LIMIT_MS * 2,
    );

    // PostgreSQL ends the frozen session; the lock comes free and the batch completes.
    await waitFor(
      async () => {
        const { rows } = await db.pool.query('select 1 from pg_stat_activity where pid = $1', [holderPid]);
        return rows.length === 0;
      },
      'the frozen session to be ended',
      IDLE_LIMIT_MS + 10_000,
    );
    const freedMs = performance.now() - lockedAt;
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.status === 'completed', 'the batch to complete', 60_000);
    expect(freedMs).toBeLessThan(IDLE_LIMIT_MS + 3000);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ status: 'completed', done: 5000, failed: 0 });
    console.log(`frozen lock holder's session ended ${freedMs.toFixed(0)} ms after it took the lock (limit ${IDLE_LIMIT_MS} ms)`);
    holder.kill('SIGCONT');
    holder.kill('SIGKILL');
  });
});
