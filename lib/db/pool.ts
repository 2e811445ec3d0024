import pg from 'pg';
import type { Logger } from '../log';

/**
 * A pg pool that survives its server going away: idle clients that error are logged and dropped
 * instead of crashing the process, and the next query reconnects.
 */
export function createPool(connectionString: string, max: number, log: Logger, applicationName: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
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
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
