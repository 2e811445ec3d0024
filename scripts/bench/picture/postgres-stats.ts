import type pg from 'pg';

/** What PostgreSQL says about who used it: each backend's client name, and the statements that took its time. */

/** The application name (or backend type) of each PostgreSQL backend now, by pid. */
export async function backendLabels(admin: pg.Client): Promise<Map<number, string>> {
  const { rows } = await admin.query<{ pid: number; label: string }>(
    `select pid, coalesce(nullif(application_name, ''), backend_type) as label from pg_stat_activity`,
  );
  return new Map(rows.map((r) => [r.pid, r.label.replace(/^finish-line-worker-w-\d+$/, 'finish-line-worker-w-N (recording)')]));
}

export async function topStatements(admin: pg.Client, database: string) {
  const { rows } = await admin
    .query<{ query: string; calls: string; total: number; mean: number }>(
      `select left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as query, calls, total_exec_time as total, mean_exec_time as mean
         from pg_stat_statements where dbid = (select oid from pg_database where datname = $1)
        order by total_exec_time desc limit 8`,
      [database],
    )
    .catch(() => ({ rows: [] }));
  return rows.map((r) => ({ query: r.query, calls: Number(r.calls), totalMs: Math.round(r.total), meanMs: Number(r.mean.toFixed(3)) }));
}
