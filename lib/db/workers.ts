import type { Sql } from './sql';

/** All SQL for the `workers` table: which worker processes exist and when each was last heard from. */

/**
 * alive: heartbeating and taking jobs; draining: asked to drain, finishing what it holds before it
 * exits; paused: heartbeating, taking no cell jobs (its own pause or the intake switch); dead: no
 * heartbeat within the window; stopped: shut down cleanly (a drained worker ends so).
 */
export type WorkerStatus = 'alive' | 'draining' | 'paused' | 'dead' | 'stopped';

/** What an operator asked of one worker (migration 015); a drain is final. */
export type WorkerDesired = 'run' | 'paused' | 'draining';

/** A worker as its row says: GET /api/workers and the dashboard show it. Types only: the browser imports them. */
export interface WorkerInfo {
  id: string;
  host: string;
  /** Null for a worker without a process of ours (a lease client). */
  pid: number | null;
  tags: string[];
  startedAt: string;
  lastHeartbeatAt: string;
  /** Cells it recorded since it started, as of its last heartbeat. */
  cellsServed: number;
  status: WorkerStatus;
  /** Extension: what an operator asked of it; `status` says what it does. */
  desired: WorkerDesired;
  /** Extension: the cells it holds right now (fetched, not yet recorded), by batch id; `{}` when idle. */
  holding: Record<string, number>;
}

/**
 * Registers a worker process as it starts. A process taking the place of one that crashed (same
 * id, no clean stop) keeps what the operator asked of its predecessor, so a pause or a drain
 * survives a crash and a restart; after a clean stop a worker starts afresh, running.
 */
export async function registerWorker(sql: Sql, worker: { id: string; host: string; pid: number; tags?: string[] }): Promise<void> {
  await sql.query(
    `insert into workers (id, host, pid, tags) values ($1, $2, $3, $4)
     on conflict (id) do update set host = $2, pid = $3, tags = $4, started_at = now(), last_seen_at = now(), cells_served = 0,
       holding = '{}', paused = false, stopped_at = null,
       desired = case when workers.stopped_at is null then workers.desired else 'run' end`,
    [worker.id, worker.host, worker.pid, worker.tags ?? ['default']],
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

/** What an operator asked of this worker; `run` when it has no row. */
export async function readWorkerDesired(sql: Sql, id: string): Promise<WorkerDesired> {
  const { rows } = await sql.query<{ desired: WorkerDesired }>('select desired from workers where id = $1', [id]);
  return rows[0]?.desired ?? 'run';
}

/**
 * Records what an operator asks of a worker, unless it has stopped or is draining (a drain is
 * final; draining again is allowed). False when it was refused so, or there is no such worker.
 */
export async function setWorkerDesired(sql: Sql, id: string, desired: WorkerDesired): Promise<boolean> {
  const { rows } = await sql.query(
    `update workers set desired = $2 where id = $1 and stopped_at is null and (desired <> 'draining' or $2 = 'draining') returning id`,
    [id, desired],
  );
  return rows.length === 1;
}

interface WorkerRow {
  id: string;
  host: string;
  pid: number | null;
  tags: string[];
  started_at: Date;
  last_seen_at: Date;
  cells_served: string;
  status: WorkerStatus;
  desired: WorkerDesired;
  holding: Record<string, number>;
}

/**
 * Each worker's status on the database's clock: dead when not heard from within $1 seconds (and not
 * stopped cleanly). A lease client (no pid) has no intake to stop: asked to pause, it is paused.
 */
const WORKER_COLUMNS = `id, host, pid, tags, started_at, last_seen_at, cells_served, desired, holding,
       case when stopped_at is not null then 'stopped'
            when last_seen_at < now() - make_interval(secs => $1) then 'dead'
            when desired = 'draining' then 'draining'
            when paused or (pid is null and desired = 'paused') then 'paused'
            else 'alive' end as status`;

const toWorkerInfo = (r: WorkerRow): WorkerInfo => ({
  id: r.id,
  host: r.host,
  pid: r.pid,
  tags: r.tags,
  startedAt: r.started_at.toISOString(),
  lastHeartbeatAt: r.last_seen_at.toISOString(),
  cellsServed: Number(r.cells_served),
  status: r.status,
  desired: r.desired,
  holding: r.holding,
});

/** Workers heard from in the last hour, by id. */
export async function listRecentWorkers(sql: Sql, deadAfterSeconds: number, limit = 100): Promise<WorkerInfo[]> {
  const { rows } = await sql.query<WorkerRow>(
    `select ${WORKER_COLUMNS}
     from workers
     where last_seen_at > now() - interval '1 hour'
     order by id
     limit $2`,
    [deadAfterSeconds, limit],
  );
  return rows.map(toWorkerInfo);
}

/** One worker, however long ago it was heard from; null when there is no such worker. */
export async function findWorker(sql: Sql, id: string, deadAfterSeconds: number): Promise<WorkerInfo | null> {
  const { rows } = await sql.query<WorkerRow>(`select ${WORKER_COLUMNS} from workers where id = $2`, [deadAfterSeconds, id]);
  return rows[0] ? toWorkerInfo(rows[0]) : null;
}

/** Workers heard from within `withinSeconds` and not stopped. */
export async function countLiveWorkers(sql: Sql, withinSeconds: number): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    `select count(*)::int as n from workers where stopped_at is null and last_seen_at > now() - make_interval(secs => $1)`,
    [withinSeconds],
  );
  return rows[0].n;
}

/**
 * A lease client's current holding, as for a worker process's fetch: the cells of its open leases,
 * by batch id (`{}` when it holds none). Read from the leases table, so any web server may write it.
 */
export async function recordLeaseHolding(sql: Sql, workerId: string): Promise<void> {
  await sql.query(
    `update workers set holding = coalesce((
       select jsonb_object_agg(batch_id, n) from (
         select job->>'batchId' as batch_id, count(*)::int as n
           from leases, jsonb_array_elements(leases.jobs) as job
          where leases.worker_id = $1 and leases.ended_at is null and leases.expires_at > now()
          group by 1) as held), '{}')
     where id = $1`,
    [workerId],
  );
}

/**
 * The tags served by the workers heard from within `withinSeconds` that take cells (not paused or
 * draining), lease clients included, sorted: a batch whose tag is not among them waits for one.
 */
export async function liveWorkerTags(sql: Sql, withinSeconds: number): Promise<string[]> {
  const { rows } = await sql.query<{ tag: string }>(
    `select distinct unnest(tags) as tag from workers
      where stopped_at is null and last_seen_at > now() - make_interval(secs => $1) and desired = 'run' and not paused
      order by 1`,
    [withinSeconds],
  );
  return rows.map((r) => r.tag);
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

/**
 * A lease client (a program leasing cells over HTTP) as a worker: registered on its first lease,
 * heard from at each, with no process of ours (`pid` null). Returns what an operator asked of it,
 * so a paused or drained client is leased nothing.
 */
export async function touchLeaseClient(
  sql: Sql,
  client: { id: string; host: string; tags: string[]; cellsServed: number },
): Promise<WorkerDesired> {
  const { rows } = await sql.query<{ desired: WorkerDesired }>(
    `insert into workers (id, host, pid, tags, cells_served) values ($1, $2, null, $3, $4)
     on conflict (id) do update set host = coalesce(nullif($2, ''), workers.host), last_seen_at = now(),
       cells_served = workers.cells_served + $4, stopped_at = null,
       tags = (select array_agg(distinct t order by t) from unnest(workers.tags || $3) as t)
     returning desired`,
    [client.id, client.host, client.tags, client.cellsServed],
  );
  return rows[0]!.desired;
}
