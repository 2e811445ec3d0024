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
  return withClient(pool, (client) => inTransaction(client, fn));
}

/** Runs `fn` in one transaction on a client the caller holds; rolls back on any throw. */
export async function inTransaction<T>(client: pg.PoolClient, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

/** Runs `fn` on a checked-out client (see `holdClient`), and gives it back after. */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const held = await holdClient(pool);
  try {
    return await fn(held.client);
  } finally {
    held.release();
  }
}

/**
 * Checks a client out for as long as the caller needs it. pg-pool stops listening for a client's
 * errors while it is out, and an 'error' nobody listens to ends the process; a server restart
 * mid-transaction must only fail the caller. A client that errored is discarded on release rather
 * than returned to the pool.
 */
export async function holdClient(pool: pg.Pool): Promise<{ client: pg.PoolClient; release(destroy?: Error): void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  return {
    client,
    release: (destroy?: Error) => {
      client.off('error', onError);
      client.release(broken ?? destroy);
    },
  };
}
