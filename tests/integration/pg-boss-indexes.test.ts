import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countJobsCapped, countLiveJobs } from '../../lib/db/jobs';
import type { Sql } from '../../lib/db/sql';
import { deleteBatchQueue } from '../../lib/batches/batch-queues';
import { ensureBatchQueue } from '../../lib/queue/boss';
import { CELL_DEAD_LETTER_QUEUE, cellQueueOf } from '../../lib/queue/cell-job';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * lib/db/jobs.ts, the one module that reads pg-boss's job table itself, counts on pg-boss's index of
 * live jobs by name and shape, in the shared table and in a batch queue's own table (a large batch's
 * queue has one: lib/queue/boss.ts). This fails when a pg-boss update renames, reshapes or drops it.
 */

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

/** Runs every statement a function of jobs.ts makes as `explain`, and gives back the plans. */
async function plansOf(run: (sql: Sql) => Promise<unknown>): Promise<string> {
  const client = await db.pool.connect();
  const plans: string[] = [];
  try {
    await client.query('begin');
    const explaining: Sql = {
      query: async (text: string, values?: unknown[]) => {
        if (/^\s*set local/i.test(text)) return client.query(text, values) as never;
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${text}`, values);
        plans.push(rows.map((r) => r['QUERY PLAN']).join('\n'));
        return { rows: [{ queued: 0, active: 0, retrying: 0, failed: 0, deadLettered: 0 }] } as never;
      },
    } as Sql;
    await run(explaining);
    return plans.join('\n');
  } finally {
    await client.query('rollback');
    client.release();
  }
}

// A small batch's queue (in pg-boss's shared table) and a large one's (a table of its own).
const SMALL = '00000000-0000-4000-8000-00000000000a';
const LARGE = '00000000-0000-4000-8000-00000000000b';

describe("pg-boss's job indexes that lib/db/jobs.ts relies on", () => {
  beforeAll(async () => {
    const boss = await db.boss();
    await ensureBatchQueue(boss, { id: SMALL, kind: 'colors', total: 100 });
    await ensureBatchQueue(boss, { id: LARGE, kind: 'colors', total: 1_000_000 });
  });

  it('are there on the tables holding the cell queues, with the columns and conditions the statements are written for', async () => {
    // pg-boss keeps unpartitioned queues in one table under `job` (job_common) and a partitioned
    // queue in a table of its own (j<hash>), and names each table's indexes after it.
    const queues = [cellQueueOf(SMALL), cellQueueOf(LARGE)];
    const { rows } = await db.pool.query<{ queue: string; partition: boolean; def: string }>(
      `select q.name as queue, q.partition, i.indexdef as def
         from pgboss.queue q join pg_indexes i on i.schemaname = 'pgboss' and i.tablename = q.table_name
        where q.name = any($1::text[]) and i.indexname ~ '_i14$'`,
      [queues],
    );
    expect(rows.map((r) => [r.queue, r.partition]).sort()).toEqual(
      [
        [cellQueueOf(SMALL), false],
        [cellQueueOf(LARGE), true],
      ].sort(),
    );
    for (const { def } of rows) {
      expect(def).toMatch(/\(name, state\b/);
      expect(def).toMatch(/WHERE \(state = ANY \(ARRAY\['created'.*'retry'.*'active'.*'failed'/);
    }
  });

  it('serve the counts: live jobs by state, and the capped counts, through job_i14', async () => {
    const queues = [cellQueueOf(SMALL), cellQueueOf(LARGE)];
    const live = await plansOf(async (sql) => {
      await sql.query('set local enable_seqscan = off');
      await countLiveJobs(sql, queues);
    });
    expect(live).toMatch(/_i14 /);
    const capped = await plansOf((sql) => countJobsCapped(sql, queues, CELL_DEAD_LETTER_QUEUE, 1000));
    expect(capped).toMatch(/_i14 /);
  });

  it("deletes a batch's queue in the shared table with its jobs through pg-boss's delete_queue(), and one with its own table by dropping it", async () => {
    const boss = await db.boss();
    await boss.insert(cellQueueOf(SMALL), [{ data: { batchId: SMALL, row: 0, col: 0 } }]);
    await boss.insert(cellQueueOf(LARGE), [{ data: { batchId: LARGE, row: 0, col: 0 } }]);
    const { rows: tables } = await db.pool.query<{ table_name: string }>('select table_name from pgboss.queue where name = $1', [
      cellQueueOf(LARGE),
    ]);
    await deleteBatchQueue({ pool: db.pool, boss }, SMALL);
    await deleteBatchQueue({ pool: db.pool, boss }, LARGE);
    for (const id of [SMALL, LARGE]) expect(await boss.getQueue(cellQueueOf(id))).toBeNull();
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from pgboss.job where name = any($1::text[])', [
      [cellQueueOf(SMALL), cellQueueOf(LARGE)],
    ]);
    expect(rows[0].n).toBe(0);
    const { rows: left } = await db.pool.query('select 1 from pg_tables where schemaname = $1 and tablename = $2', [
      'pgboss',
      tables[0].table_name,
    ]);
    expect(left).toEqual([]);
    // Gone is gone: again is a no-op.
    expect(await deleteBatchQueue({ pool: db.pool, boss }, SMALL)).toBe(0);
  });
});
