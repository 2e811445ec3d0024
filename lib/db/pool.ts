import pg from 'pg';
import { DB_SESSION_TIMEOUT_DEFAULTS, type DbSessionTimeouts } from '../config';
import type { Logger } from '../log';

/**
 * A pg pool that survives its server going away: idle clients that error are logged and dropped
 * instead of crashing the process, and the next query reconnects.
 *
 * Every session it opens carries server-side time limits (`DB_IDLE_IN_TRANSACTION_TIMEOUT_MS`,
 * `DB_LOCK_TIMEOUT_MS`): PostgreSQL itself ends a session left idle inside a transaction (its process
 * frozen or stuck between an update and its commit), so the row locks it holds come free for the
 * others, and a statement queued behind a lock fails instead of queueing for ever. Neither limits
 * how long a statement runs: the fan-out's big inserts and the migrations keep all the time they need.
 * `options` (more `-c name=value` settings) come after these, so a caller's own value wins.
 */
export function createPool(
  connectionString: string,
  max: number,
  log: Logger,
  applicationName: string,
  options?: string,
  timeouts: DbSessionTimeouts = DB_SESSION_TIMEOUT_DEFAULTS,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    options: [sessionTimeoutOptions(timeouts), options].filter(Boolean).join(' '),
    application_name: applicationName,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });
  pool.on('error', (err) => log.warn('idle database connection lost', { err }));
  return pool;
}

/** The `-c` startup options that set a session's time limits. */
export function sessionTimeoutOptions(timeouts: DbSessionTimeouts): string {
  return `-c idle_in_transaction_session_timeout=${timeouts.idleInTransactionMs} -c lock_timeout=${timeouts.lockMs}`;
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
export async function holdClient(pool: pg.Pool): Promise<HeldClient> {
  return hold(await pool.connect());
}

export interface HeldClient {
  client: pg.PoolClient;
  release(destroy?: Error): void;
}

/**
 * `holdClient`, but only when the pool has a connection free right now (idle, or room to open one):
 * null instead of queueing behind the pool's other users. A bounded pool used this way is a limit on
 * how many of a kind of work run at once, never a queue.
 */
export async function tryHoldClient(pool: pg.Pool): Promise<HeldClient | null> {
  // pg-pool counts a client as in use from the moment connect() is called, so checking and calling
  // in one synchronous step cannot be raced by another caller in this process.
  if (pool.waitingCount > 0 || pool.totalCount - pool.idleCount >= (pool.options.max ?? 10)) return null;
  return hold(await pool.connect());
}

function hold(client: pg.PoolClient): HeldClient {
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
