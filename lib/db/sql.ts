import type { QueryResultRow } from 'pg';

/** Anything that runs a parameterized statement: a pool, a checked-out client, or a transaction. */
export interface Sql {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** pg-boss hands transactions out as `executeSql`; this lets the table modules run on them. */
export function fromExecutor(db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> }): Sql {
  return {
    query: async <R extends QueryResultRow>(text: string, values?: unknown[]) =>
      (await db.executeSql(text, values)) as { rows: R[] },
  };
}

/** The other way round: pg-boss calls that must join our transaction take `{ db: toExecutor(client) }`. */
export function toExecutor(sql: Sql) {
  return { executeSql: (text: string, values?: unknown[]) => sql.query(text, values) };
}
