import type { Sql } from './sql';

/** All SQL for the `leases` and `lease_request_counts` tables (migration 016). */

/** A leased cell: the pg-boss job that carries it, and what the lease client is told. */
export interface LeasedJob {
  id: string;
  queue: string;
  batchId: string;
  row: number;
  col: number;
  attempt: number;
}

export interface LeaseRow {
  id: string;
  tokenHash: string;
  workerId: string;
  tag: string;
  expiresAt: Date;
  /** Still open: not ended, and `expiresAt` is ahead on the database's clock. */
  open: boolean;
  jobs: LeasedJob[];
}

interface DbLeaseRow {
  id: string;
  token_hash: string;
  worker_id: string;
  tag: string;
  expires_at: Date;
  open: boolean;
  jobs: LeasedJob[];
}

const toLease = (r: DbLeaseRow): LeaseRow => ({
  id: r.id,
  tokenHash: r.token_hash,
  workerId: r.worker_id,
  tag: r.tag,
  expiresAt: r.expires_at,
  open: r.open,
  jobs: r.jobs,
});

const COLUMNS = 'id, token_hash, worker_id, tag, expires_at, jobs, (ended_at is null and expires_at > now()) as open';

export async function insertLease(
  sql: Sql,
  lease: { id: string; tokenHash: string; workerId: string; tag: string; leaseSeconds: number; maxSeconds: number; jobs: LeasedJob[] },
): Promise<Date> {
  const { rows } = await sql.query<{ expires_at: Date }>(
    `insert into leases (id, token_hash, worker_id, tag, expires_at, expires_at_most, jobs)
     values ($1, $2, $3, $4, now() + make_interval(secs => least($5::float8, $6::float8)), now() + make_interval(secs => $6::float8), $7)
     returning expires_at`,
    [lease.id, lease.tokenHash, lease.workerId, lease.tag, lease.leaseSeconds, lease.maxSeconds, JSON.stringify(lease.jobs)],
  );
  return rows[0]!.expires_at;
}

/**
 * The lease, its row locked until the transaction ends: completing, extending and expiring a lease
 * each take this lock first, so exactly one of them decides its fate.
 */
export async function lockLease(sql: Sql, id: string, tokenHash: string): Promise<LeaseRow | null> {
  const { rows } = await sql.query<DbLeaseRow>(`select ${COLUMNS} from leases where id = $1 and token_hash = $2 for update`, [
    id,
    tokenHash,
  ]);
  return rows[0] ? toLease(rows[0]) : null;
}

/**
 * Moves an open lease's expiry to `leaseSeconds` from now, or to the furthest it may go if that is
 * sooner; null when it was no longer open.
 */
export async function extendLease(sql: Sql, id: string, leaseSeconds: number): Promise<Date | null> {
  const { rows } = await sql.query<{ expires_at: Date }>(
    `update leases set expires_at = least(now() + make_interval(secs => $2::float8), expires_at_most)
     where id = $1 and ended_at is null and expires_at > now()
     returning expires_at`,
    [id, leaseSeconds],
  );
  return rows[0]?.expires_at ?? null;
}

/** Keeps only these jobs in an open lease (the others were completed). */
export async function setLeaseJobs(sql: Sql, id: string, jobs: LeasedJob[]): Promise<void> {
  await sql.query('update leases set jobs = $2 where id = $1', [id, JSON.stringify(jobs)]);
}

export async function endLease(sql: Sql, id: string, outcome: 'completed' | 'expired'): Promise<void> {
  await sql.query('update leases set ended_at = now(), outcome = $2 where id = $1 and ended_at is null', [id, outcome]);
}

/**
 * Up to `limit` leases past their expiry and not yet ended, locked, skipping those another web
 * server is ending right now: each expired lease is returned to the queue exactly once.
 */
export async function lockExpiredLeases(sql: Sql, limit: number): Promise<LeaseRow[]> {
  const { rows } = await sql.query<DbLeaseRow>(
    `select ${COLUMNS} from leases
     where ended_at is null and expires_at <= now()
     order by expires_at
     limit $1
     for update skip locked`,
    [limit],
  );
  return rows.map(toLease);
}

/** The jobs of every open lease, for the heartbeat that keeps them active in pg-boss. */
export async function openLeaseJobs(sql: Sql): Promise<LeasedJob[]> {
  const { rows } = await sql.query<{ jobs: LeasedJob[] }>('select jobs from leases where ended_at is null and expires_at > now()');
  return rows.flatMap((r) => r.jobs);
}

/** Ended leases are kept this long for a late client's 409, then deleted. */
export async function deleteEndedLeases(sql: Sql, olderThanSeconds: number): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(
    `with gone as (delete from leases where ended_at < now() - make_interval(secs => $1::float8) returning 1)
     select count(*)::text as n from gone`,
    [olderThanSeconds],
  );
  return Number(rows[0]!.n);
}

/**
 * Counts one lease request of a token in the current second and returns how many it made in it,
 * this one included (every web server counts in the same row). Old seconds are deleted as it goes.
 */
export async function countLeaseRequest(sql: Sql, tokenHash: string): Promise<number> {
  const { rows } = await sql.query<{ requests: number }>(
    `insert into lease_request_counts (token_hash, second, requests) values ($1, date_trunc('second', now()), 1)
     on conflict (token_hash, second) do update set requests = lease_request_counts.requests + 1
     returning requests`,
    [tokenHash],
  );
  return rows[0]!.requests;
}

export async function deleteOldLeaseRequestCounts(sql: Sql): Promise<void> {
  await sql.query(`delete from lease_request_counts where second < now() - interval '1 minute'`);
}
