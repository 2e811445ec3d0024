import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../log';
import { withClient } from './pool';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 7_406_113;

/**
 * Applies the numbered `.sql` files in `migrations/` that this database has not seen, each in its
 * own transaction, recorded in `schema_migrations`. An advisory lock makes concurrent callers
 * (several servers and workers booting at once) take turns; the later ones find nothing to do.
 */
export async function migrate(pool: pg.Pool, log: Logger): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return withClient(pool, async (client) => {
    // Pools set a short lock_timeout for request work; a migration may wait for locks as long as it needs.
    await client.query('set lock_timeout = 0');
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      return await applyPending(client, files, log);
    } finally {
      // The client goes back to the pool, so the session lock and setting must not go with it.
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await client.query('reset lock_timeout').catch(() => undefined);
    }
  });
}

async function applyPending(client: pg.PoolClient, files: string[], log: Logger): Promise<string[]> {
  await client.query(`create table if not exists schema_migrations (
    name text primary key, applied_at timestamptz not null default now())`);
  const { rows } = await client.query<{ name: string }>('select name from schema_migrations');
  const done = new Set(rows.map((r) => r.name));
  const applied: string[] = [];
  for (const file of files.filter((f) => !done.has(f))) {
    const sql = await readFile(`${MIGRATIONS_DIR}${file}`, 'utf8');
    try {
      await client.query('begin');
      await client.query(sql);
      await client.query('insert into schema_migrations (name) values ($1)', [file]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw new Error(`Migration ${file} failed; the database is left at the migration before it.`, { cause: err });
    }
    applied.push(file);
    log.info('migration applied', { migration: file });
  }
  return applied;
}
