import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { setIntakePaused } from '../../lib/db/intake';
import { deleteNewestQueuedJobsOfBatch, endQueuedJobsOfBatch } from '../../lib/db/jobs';
import { CELL_QUEUE } from '../../lib/queue/cell-job';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { startWorker, type WorkerProcess } from '../helpers/processes';

// Cancel at any size: a big batch's cancel returns at once, and a small batch started right after
// it runs about as fast as on an idle system, not behind the big batch's queued jobs. Two real
// worker processes; the big batch's jobs are all queued (intake paused during its fan-out) and
// workers are taking them when it is cancelled. The size defaults to what a 2-core machine does in
// a test run; CANCEL_LARGE_CELLS=1000000 tries a million.

const BIG_CELLS = Number(process.env.CANCEL_LARGE_CELLS ?? 200_000);
const BIG_COLS = 1000;
/**
 * How much slower than on an idle system the small batch may be once the cancelled batch's queued
 * jobs are gone: before that it waits behind them (a fetch takes the oldest first).
 */
const SLOWDOWN_ALLOWED = 3;
/**
 * How long the small batch may wait per queued job of the cancelled batch, beyond that. Ending them
 * is work per job (docs/architecture.md, "Cancel"): ~190,000 went in 1.5–4.8 s (8–25 µs each) with
 * two workers on a 2-core machine under other tests' load, where the lock-then-delete chunks before
 * took 33–110 µs each (a 20×20 waited 5.3–14 s after a 200,000 cancel, against 0.1–0.5 s idle).
 * The bound leaves the new way room for a busier machine, and fails the old one under load.
 *
 * Not yet the issue's promise ("a small batch started right after runs at normal speed", a small
 * multiple of its idle time at any size): that needs the cancelled jobs out of the fetch's path at
 * once, not deleted one by one; see docs/architecture.md, "Cancel".
 */
const WAIT_PER_JOB_ALLOWED_MS = 0.05;

let db: TestDatabase;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  workers.push(startWorker(db.url, 'w-1'), startWorker(db.url, 'w-2'));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  // Ending a few hundred thousand jobs wakes autovacuum, whose worker our (non-superuser) role may
  // not terminate, so the forced drop would fail while it runs.
  await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and backend_type = 'autovacuum worker'`,
      );
      return rows[0].n === 0;
    },
    'autovacuum to leave the test database',
    120_000,
  );
  await db.drop();
});

const deps = async () => ({ pool: db.pool, boss: await db.boss(), chunkSize: 5000, defaultDeadlineSeconds: 600 });

/** Runs a batch from start to completion; its duration by the database's clock (created → finished). */
async function timeBatch(rows: number, cols: number): Promise<number> {
  const { batch } = await startBatch(await deps(), { rows, cols });
  const done = await waitFor(
    async () => {
      const b = await findBatch(db.pool, batch.id);
      return b?.status === 'completed' ? b : null;
    },
    `batch ${batch.id} to complete`,
    120_000,
  );
  return Date.parse(done.finishedAt!) - Date.parse(done.createdAt);
}

async function workersPaused(paused: boolean): Promise<void> {
  await setIntakePaused(db.pool, paused);
  await waitFor(
    async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        'select count(*)::int as n from workers where stopped_at is null and paused = $1',
        [paused],
      );
      return rows[0].n === workers.length;
    },
    `workers to be ${paused ? 'paused' : 'taking jobs again'}`,
  );
}

describe('cancel at any size', () => {
  it(
    `cancels a ${BIG_CELLS}-cell batch in under a second; its queued jobs go by key, and a 20×20 batch started right after waits for nothing else`,
    { timeout: 600_000 },
    async () => {
      await timeBatch(20, 20); // workers warm
      const idle = Math.min(await timeBatch(20, 20), await timeBatch(20, 20));

      await workersPaused(true);
      const { batch: big, fanOut } = await startBatch(await deps(), { rows: Math.ceil(BIG_CELLS / BIG_COLS), cols: BIG_COLS });
      expect(await fanOut).toMatchObject({ outcome: 'all' });
      await workersPaused(false);
      // Workers are taking its jobs, and nearly all of them are still queued.
      await waitFor(async () => ((await findBatch(db.pool, big.id))?.done ?? 0) >= 2000, 'the big batch to be under way');

      const started = performance.now();
      const { batch: cancelled, jobsCancelled } = await cancelBatch({ pool: db.pool, boss: await db.boss() }, big.id);
      const cancelMs = performance.now() - started;
      const small = timeBatch(20, 20);
      const cancelledJobs = await jobsCancelled;
      const cleanupMs = performance.now() - started;
      const afterCancel = await small;

      console.log(
        `cancel of ${BIG_CELLS} cells (${cancelled.done} done): returned in ${cancelMs.toFixed(0)} ms; ` +
          `${cancelledJobs} queued jobs cancelled within ${cleanupMs.toFixed(0)} ms; ` +
          `20×20: ${idle} ms idle, ${afterCancel} ms right after (×${(afterCancel / idle).toFixed(2)})`,
      );
      expect(cancelled.status).toBe('cancelled');
      expect(cancelMs).toBeLessThan(1000);
      expect(cancelledJobs).toBeGreaterThan(BIG_CELLS / 2);
      // Nothing but the cancelled batch's queued jobs held it back: once they were gone, it ran at idle speed.
      expect(afterCancel).toBeLessThan(cleanupMs + idle * SLOWDOWN_ALLOWED);
      // And they went fast.
      expect(afterCancel).toBeLessThan(idle * SLOWDOWN_ALLOWED + cancelledJobs * WAIT_PER_JOB_ALLOWED_MS);

      // Nothing of the big batch is left queued or held, and no cell was coloured after the cancel.
      await waitFor(async () => {
        const states = await jobStates(db.pool, big.id);
        return !states.created && !states.retry && !states.active;
      }, 'no job of the cancelled batch left queued or active');
      expect((await findBatch(db.pool, big.id))?.done).toBe(cancelled.done);
    },
  );

  it('finds a batch’s queued jobs through pg-boss’s index of singleton keys (fails if a pg-boss update drops it)', async () => {
    const { batch } = await startBatch(await deps(), { rows: 3, cols: 3 });
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await client.query('set local enable_seqscan = off');
      await client.query('set local enable_bitmapscan = off');
      // The cancel statement, explained: its jobs are found by key (job_i17), not by payload.
      let plan = '';
      const explaining = {
        query: async (text: string, values?: unknown[]) => {
          // A setting is applied, not explained.
          if (/^select set_config/.test(text)) return client.query(text, values) as never;
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${text}`, values);
          plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          return { rows: [{ ended: 0 }] as never[] };
        },
      };
      for (const how of ['cancel', 'delete'] as const) {
        await endQueuedJobsOfBatch(explaining, CELL_QUEUE, batch.id, 10, how);
        expect(plan).toMatch(/i17/);
      }
      await deleteNewestQueuedJobsOfBatch(explaining, CELL_QUEUE, batch.id, { limit: 10, behind: 2, before: null, lockTimeoutMs: 100 });
      expect(plan).toMatch(/i17/);
      await client.query('rollback');
    } finally {
      client.release();
    }
    // The cell jobs carry their batch's key.
    const { rows } = await db.pool.query<{ n: number }>(
      `select count(*)::int as n from pgboss.job where name = 'cell' and singleton_key = $1`,
      [batch.id],
    );
    expect(rows[0].n).toBe(9);
  });

  it('ends a large batch’s queued jobs without waiting for a row another transaction holds', { timeout: 120_000 }, async () => {
    await workersPaused(true);
    try {
      const { batch, fanOut } = await startBatch(await deps(), { rows: 30, cols: 1000 });
      expect(await fanOut).toMatchObject({ outcome: 'all' });
      // Its newest job, held the way a worker's fetch holds the jobs it is claiming, until we let go.
      const holder = await db.pool.connect();
      try {
        await holder.query('begin');
        const { rows } = await holder.query<{ id: string }>(
          `select id from pgboss.job where name = 'cell' and singleton_key = $1 order by created_on desc limit 1 for update`,
          [batch.id],
        );
        const started = performance.now();
        const { jobsCancelled } = await cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id);
        expect(await jobsCancelled).toBe(batch.total - 1);
        // It gave way (three waits of half a second at most), and the held job is left to the workers.
        expect(performance.now() - started).toBeLessThan(10_000);
        const left = await db.pool.query<{ id: string }>(`select id from pgboss.job where name = 'cell' and singleton_key = $1`, [
          batch.id,
        ]);
        expect(left.rows).toEqual(rows);
        await holder.query('rollback');
      } finally {
        holder.release();
      }
    } finally {
      await workersPaused(false);
    }
  });
});
