import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/**
 * What the bench watches while a run goes, to say where the time went: CPU seconds by role (from
 * /proc), PostgreSQL's lock waits (sampled from pg_stat_activity), WAL written, and (with
 * pg_stat_statements loaded) the statements that took the database's time.
 */

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Every process whose parent is `pid` (one level: PostgreSQL's backends under its postmaster). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone between the listing and the read
    }
  }
  return children;
}

export interface RoleCpu {
  role: string;
  pids: () => number[];
}

export interface ProbeReport {
  wallSeconds: number;
  /** CPU seconds used during the run, by role. */
  cpuSeconds: Record<string, number>;
  /** Share of pg_stat_activity samples in which a backend of this database waited on a lock. */
  lockWaitShare: number;
  /** The wait events seen most, with how many samples each. */
  topWaits: { event: string; samples: number }[];
  walMegabytes: number;
  /** Top statements by total time, when pg_stat_statements is loaded. */
  statements: { query: string; calls: number; totalMs: number; meanMs: number; rows: number }[] | null;
}

/**
 * Starts watching: PostgreSQL's backends (children of `postmasterPid`, when it runs on this machine)
 * and the given roles' processes. `stop()` returns the report for the interval.
 */
export async function startProbes(url: string, postmasterPid: number | null, roles: RoleCpu[]) {
  const database = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const groups: RoleCpu[] = [...roles];
  if (postmasterPid) groups.push({ role: 'postgres', pids: () => childrenOf(postmasterPid) });
  // Backends come and go; count each pid's CPU from when it was first seen (its whole life if new).
  const baseline = new Map<number, number>();
  const last = new Map<number, { role: string; seconds: number }>();
  const sampleCpu = (first: boolean) => {
    for (const group of groups) {
      for (const pid of group.pids()) {
        const seconds = cpuSeconds(pid);
        if (!baseline.has(pid)) baseline.set(pid, first ? seconds : 0);
        last.set(pid, { role: group.role, seconds });
      }
    }
  };
  const statements = await admin
    .query('select pg_stat_statements_reset()')
    .then(() => true)
    .catch(() => false);
  const walStart = (await admin.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;
  sampleCpu(true);
  const started = performance.now();

  let samples = 0;
  let lockSamples = 0;
  const waits = new Map<string, number>();
  const sampler = new pg.Client({ connectionString: url });
  await sampler.connect();
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const { rows } = await sampler.query<{ wait: string | null; type: string | null }>(
        `select wait_event_type as type, wait_event_type || ':' || wait_event as wait from pg_stat_activity
          where datname = $1 and state = 'active' and pid <> pg_backend_pid()`,
        [database],
      );
      samples++;
      if (rows.some((r) => r.type === 'Lock')) lockSamples++;
      for (const r of rows) if (r.wait) waits.set(r.wait, (waits.get(r.wait) ?? 0) + 1);
      sampleCpu(false);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  return {
    async stop(): Promise<ProbeReport> {
      sampling = false;
      await loop;
      await sampler.end();
      sampleCpu(false);
      const wallSeconds = (performance.now() - started) / 1000;
      const cpu: Record<string, number> = {};
      for (const [pid, { role, seconds }] of last) cpu[role] = (cpu[role] ?? 0) + seconds - (baseline.get(pid) ?? 0);
      const wal = await admin.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint as bytes', [
        walStart,
      ]);
      const top = statements
        ? (
            await admin.query<{ query: string; calls: string; total: number; mean: number; rows: string }>(
              `select left(regexp_replace(query, '\\s+', ' ', 'g'), 90) as query, calls, total_exec_time as total, mean_exec_time as mean, rows
                 from pg_stat_statements where dbid = (select oid from pg_database where datname = $1)
                order by total_exec_time desc limit 8`,
              [database],
            )
          ).rows.map((r) => ({
            query: r.query,
            calls: Number(r.calls),
            totalMs: Math.round(r.total),
            meanMs: Number(r.mean.toFixed(2)),
            rows: Number(r.rows),
          }))
        : null;
      await admin.end();
      return {
        wallSeconds,
        cpuSeconds: Object.fromEntries(Object.entries(cpu).map(([role, s]) => [role, Number(s.toFixed(2))])),
        lockWaitShare: samples ? lockSamples / samples : 0,
        topWaits: [...waits]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([event, n]) => ({ event, samples: n })),
        walMegabytes: Number(wal.rows[0].bytes) / 1e6,
        statements: top,
      };
    },
  };
}
