import type { Sql } from './sql';

/**
 * The SQL that admits a batch creation: the per-client try-lock and the global count of cells still
 * to do. (The per-client counts are `clientUsage` in batches.ts.)
 */

// The same lock space as batches.ts's `lockClient`, so both serialize the same client.
const CLIENT_LOCKS = 0x46_4c_43_4c; // "FLCL"

/**
 * Takes the client's transaction-level advisory lock if nobody holds it: false at once otherwise,
 * never a wait. Released at commit or rollback.
 */
export async function tryLockClient(sql: Sql, clientKey: string): Promise<boolean> {
  const { rows } = await sql.query<{ locked: boolean }>('select pg_try_advisory_xact_lock($1, hashtext($2)) as locked', [
    CLIENT_LOCKS,
    clientKey,
  ]);
  return rows[0].locked;
}

/** Cells of running batches without an outcome yet, queued or being worked on: what the global cap counts. */
export async function activeCells(sql: Sql): Promise<number> {
  // Read through the partial index of running batches (batches_running_deadline_idx); there are few.
  const { rows } = await sql.query<{ n: string }>(
    `select coalesce(sum(total - done - failed), 0)::bigint as n from batches where status = 'running'`,
  );
  return Number(rows[0].n);
}
