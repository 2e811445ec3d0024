import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { inject } from 'vitest';
import { createPool } from '../../lib/db/pool';
import { createLogger } from '../../lib/log';
import { startBoss } from '../../lib/queue/boss';
import { cellQueueOf } from '../../lib/queue/cell-job';
import { TEMPLATE_DB, withDatabase } from '../setup/postgres';

export const quietLog = createLogger({ proc: 'test' }, 'silent');

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** A producer pg-boss on this database, started on first use. */
  boss(): Promise<PgBoss>;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, copied from the template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `finishline_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name} template ${TEMPLATE_DB}`);
  await admin.end();

  const url = withDatabase(adminUrl, name);
  const pool = createPool(url, 10, quietLog, 'finish-line-test');
  let boss: Promise<PgBoss> | undefined;
  return {
    url,
    pool,
    boss: () => (boss ??= startBoss(url, 'producer', quietLog, 4)),
    drop: async () => {
      if (boss) await (await boss).stop({ graceful: false });
      await pool.end();
      // Only a superuser may end an autovacuum worker, which `with (force)` must do when one is busy here.
      const client = new pg.Client({ connectionString: inject('pgSuperUrl') });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/** Polls `condition` until it returns a truthy value; fails with `what` if it never does. */
export async function waitFor<T>(condition: () => Promise<T> | T, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Counts the batch's cell jobs by state, straight from pg-boss's table (its batch's queue; none once that is deleted). */
export async function jobStates(pool: pg.Pool, batchId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ state: string; n: number }>(
    `select state, count(*)::int as n from pgboss.job where name = $1 group by state`,
    [cellQueueOf(batchId)],
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}
