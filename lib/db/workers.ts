import type { Sql } from './sql';

/** All SQL for the `workers` table: which worker processes exist and when each was last heard from. */

/** alive: heartbeating and taking jobs; paused: heartbeating, intake paused; dead: no heartbeat for three beats; stopped: shut down cleanly. */
export type WorkerStatus = 'alive' | 'paused' | 'dead' | 'stopped';

/** A worker as its row says; the dashboard shows it (lib/dashboard/types.ts). Types only: the browser imports them. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  lastSeenAt: string;
  /** As of its last heartbeat. */
  cellsServed: number;
  status: WorkerStatus;
}

export async function registerWorker(sql: Sql, worker: { id: string; host: string; pid: number }): Promise<void> {
  await sql.query(
    `insert into workers (id, host, pid) values ($1, $2, $3)
     on conflict (id) do update set host = $2, pid = $3, started_at = now(), last_seen_at = now(), cells_served = 0, stopped_at = null, paused = false`,
    [worker.id, worker.host, worker.pid],
  );
}

/** Records that the worker is alive and how many more cells it served since the last beat. */
export async function heartbeatWorker(sql: Sql, id: string, cellsServed: number): Promise<void> {
  await sql.query('update workers set last_seen_at = now(), cells_served = cells_served + $2 where id = $1', [id, cellsServed]);
}

/** Records the cells the worker holds now, by batch id (an empty object when idle). */
export async function setWorkerHolding(sql: Sql, id: string, holding: Record<string, number>): Promise<void> {
  await sql.query('update workers set holding = $2 where id = $1', [id, JSON.stringify(holding)]);
}

export async function markWorkerStopped(sql: Sql, id: string): Promise<void> {
  await sql.query(`update workers set stopped_at = now(), holding = '{}' where id = $1`, [id]);
}

/** Records whether the worker has stopped taking cell jobs (intake paused) or taken them up again. */
export async function setWorkerPaused(sql: Sql, id: string, paused: boolean): Promise<void> {
  await sql.query('update workers set paused = $2 where id = $1', [id, paused]);
}

interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  started_at: Date;
  last_seen_at: Date;
  cells_served: string;
  status: WorkerStatus;
}

/**
 * Workers heard from in the last hour, by id, with their status on the database's clock: dead when
 * not heard from within `deadAfterSeconds` (and not stopped cleanly).
 */
export async function listRecentWorkers(sql: Sql, deadAfterSeconds: number, limit = 100): Promise<WorkerInfo[]> {
  const { rows } = await sql.query<WorkerRow>(
    `select id, host, pid, started_at, last_seen_at, cells_served,
       case when stopped_at is not null then 'stopped'
            when last_seen_at < now() - make_interval(secs => $1) then 'dead'
            when paused then 'paused'
            else 'alive' end as status
     from workers
     where last_seen_at > now() - interval '1 hour'
     order by id
     limit $2`,
    [deadAfterSeconds, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    host: r.host,
    pid: r.pid,
    startedAt: r.started_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    cellsServed: Number(r.cells_served),
    status: r.status,
  }));
}

/** Workers heard from within `withinSeconds` and not stopped. */
export async function countLiveWorkers(sql: Sql, withinSeconds: number): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    `select count(*)::int as n from workers where stopped_at is null and last_seen_at > now() - make_interval(secs => $1)`,
    [withinSeconds],
  );
  return rows[0].n;
}

/** Forgets workers that stopped more than `days` ago; returns how many. */
export async function deleteWorkersStoppedBefore(sql: Sql, days: number): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    'with gone as (delete from workers where stopped_at < now() - make_interval(days => $1) returning 1) select count(*)::int as n from gone',
    [days],
  );
  return rows[0].n;
}

/**
 * For each of these batches still running: its counters, and the cells each live worker (heard from
 * within `withinSeconds`) says it holds of it.
 */
export async function readBatchActivity(
  sql: Sql,
  batchIds: string[],
  withinSeconds: number,
): Promise<{ id: string; total: number; enqueued: number; done: number; failed: number; inFlight: { worker: string; cells: number }[] }[]> {
  const { rows } = await sql.query<{
    id: string;
    total: number;
    enqueued: number;
    done: number;
    failed: number;
    in_flight: { worker: string; cells: number }[];
  }>(
    `select b.id, b.total, b.enqueued, b.done, b.failed,
            coalesce((select jsonb_agg(jsonb_build_object('worker', w.id, 'cells', (w.holding ->> b.id::text)::int) order by w.id)
                        from workers w
                       where w.holding ? b.id::text and w.stopped_at is null
                         and w.last_seen_at > now() - make_interval(secs => $2)), '[]'::jsonb) as in_flight
       from batches b
      where b.id = any($1::uuid[]) and b.status = 'running'`,
    [batchIds, withinSeconds],
  );
  return rows.map((r) => ({ id: r.id, total: r.total, enqueued: r.enqueued, done: r.done, failed: r.failed, inFlight: r.in_flight }));
}
