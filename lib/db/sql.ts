import type { QueryResultRow } from 'pg';

/** Anything that runs a parameterized statement: a pool, a checked-out client, or a transaction. */
export interface Sql {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** pg-boss calls that must join our transaction take `{ db: toExecutor(client) }`. */
export function toExecutor(sql: Sql) {
  return { executeSql: (text: string, values?: unknown[]) => sql.query(text, values) };
}
