import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countJobsCapped, countLiveJobs } from '../../lib/db/jobs';
import type { Sql } from '../../lib/db/sql';
import { CELL_DEAD_LETTER_QUEUE, CELL_QUEUE, SLOW_CELL_QUEUE } from '../../lib/queue/cell-job';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * lib/db/jobs.ts, the one module that reads pg-boss's job table itself, counts on two of pg-boss's
 * indexes by name and shape. This fails when a pg-boss update renames, reshapes or drops them; the
 * cancel's use of job_i17 is checked in cancel-large.test.ts.
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

describe("pg-boss's job indexes that lib/db/jobs.ts relies on", () => {
  it('are there on the table holding the cell queues, with the columns and conditions the statements are written for', async () => {
    // pg-boss keeps unpartitioned queues in one table under `job` and names its indexes after it (job_common_i14).
    const { rows } = await db.pool.query<{ queue: string; index: string; def: string }>(
      `select q.name as queue, substring(i.indexname from '_(i1[47])$') as index, i.indexdef as def
         from pgboss.queue q join pg_indexes i on i.schemaname = 'pgboss' and i.tablename = q.table_name
        where q.name = any($1::text[]) and i.indexname ~ '_i1[47]$'`,
      [[CELL_QUEUE, SLOW_CELL_QUEUE]],
    );
    for (const queue of [CELL_QUEUE, SLOW_CELL_QUEUE]) {
      const def = Object.fromEntries(rows.filter((r) => r.queue === queue).map((r) => [r.index, r.def]));
      expect(def.i14).toMatch(/\(name, state\b/);
      expect(def.i14).toMatch(/WHERE \(state = ANY \(ARRAY\['created'.*'retry'.*'active'.*'failed'/);
      expect(def.i17).toMatch(/\(name, singleton_key, created_on\)/);
      expect(def.i17).toMatch(/state < 'active'.*singleton_key IS NOT NULL/);
    }
  });

  it('serve the counts: live jobs by state, and the capped counts, through job_i14', async () => {
    const queues = [CELL_QUEUE, SLOW_CELL_QUEUE];
    const live = await plansOf(async (sql) => {
      await sql.query('set local enable_seqscan = off');
      await countLiveJobs(sql, queues);
    });
    expect(live).toMatch(/_i14 /);
    const capped = await plansOf((sql) => countJobsCapped(sql, queues, CELL_DEAD_LETTER_QUEUE, 1000));
    expect(capped).toMatch(/_i14 /);
  });
});
