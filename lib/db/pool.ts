import pg from 'pg';
import type { Logger } from '../log';

/**
 * A pg pool that survives its server going away: idle clients that error are logged and dropped
 * instead of crashing the process, and the next query reconnects.
 */
export function createPool(connectionString: string, max: number, log: Logger, applicationName: string, options?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    options,
    application_name: applicationName,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  pool.on('error', (err) => log.warn('idle database connection lost', { err }));
  return pool;
}

/** Runs `fn` in one transaction on one client; rolls back on any throw. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    try {
      await client.query('begin');
      const result = await fn(client);
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Runs `fn` on a checked-out client. pg-pool stops listening for a client's errors while it is out,
 * and an 'error' nobody listens to ends the process; a server restart mid-transaction must only fail
 * this call. A client that errored is discarded rather than returned to the pool.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
