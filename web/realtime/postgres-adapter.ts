import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Logger } from '../../lib/log';

/**
 * Where we lean on @socket.io/postgres-adapter's internals, all in one place. It is pinned at 0.3.1
 * (package.json):
 * - the workers publish with @socket.io/postgres-emitter 0.1 (lib/realtime/emitter.ts), which speaks
 *   0.3's wire format (a NOTIFY per event on `socket.io#<namespace>`, payloads past 8,000 bytes in
 *   the `socket_io_attachments` table), and not that of later adapter releases;
 * - the adapter calls only `query()` and `connect()` on the pool it is given, LISTENs on the client
 *   `connect()` returns, attaches its `notification` handler after its LISTEN statements, and calls
 *   `release()` on that client to stop.
 * tests/integration/postgres-adapter.test.ts and listen-recovery.test.ts fail when an update of the
 * adapter or the emitter breaks any of it.
 */
export function postgresAdapter(connectionString: string, pool: pg.Pool, onListening: () => void, log: Logger) {
  return createAdapter(listenConnections(connectionString, pool, onListening, log), {
    errorHandler: (err: Error) => log.warn('socket.io adapter error', { err: err.message }),
  });
}

/** How often the LISTEN connection must hear a notification (the adapters' own heartbeats come every 5 s) to count as alive. */
const LISTEN_SILENCE_MS = 20_000;

/**
 * What the adapter takes for a pool: queries go to ours, and its LISTEN connection is a client of
 * its own, ended when released. The adapter reconnects after a lost connection but never hands the
 * dead client back; from a real pool that leaks a slot per outage until it can connect no more.
 *
 * Notifications are handed to the adapter one at a time, each after the one before it is done: the
 * adapter reads an event past NOTIFY's size limit back from its attachment table before delivering
 * it, and handles the next notification meanwhile, so a small event committed after a big one (a
 * batch's completion after its last tiles, in the same transaction) would reach clients first. A
 * client that takes the completion as the end of the batch would miss those tiles.
 *
 * Two more duties, since the adapter tells nobody: `onListening` is called each time a connection
 * is fully listening (the adapter attaches its notification handler last), so that the replay can
 * send what was missed meanwhile; and a connection that hears nothing, not even the adapters' own
 * heartbeats, for LISTEN_SILENCE_MS is dead without having said so (a network cut) and is closed,
 * which makes the adapter reconnect.
 */
function listenConnections(connectionString: string, pool: pg.Pool, onListening: () => void, log: Logger): pg.Pool {
  // The adapter calls only query() and connect(); its type asks for a whole Pool.
  return {
    query: (text: string, values?: unknown[]) => pool.query(text, values),
    connect: async () => {
      const client = new pg.Client({ connectionString, application_name: 'finish-line-socket-io', keepAlive: true });
      client.on('error', () => undefined);
      await client.connect();
      let heardAt = Date.now();
      client.on('notification', () => (heardAt = Date.now()));
      const watchdog = setInterval(() => {
        if (Date.now() - heardAt < LISTEN_SILENCE_MS) return;
        log.warn('the Socket.IO LISTEN connection went silent; reconnecting', { silentMs: Date.now() - heardAt });
        clearInterval(watchdog);
        // end() would wait for an answer that never comes; pg's stream is the socket under it.
        (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      }, LISTEN_SILENCE_MS / 4);
      watchdog.unref();
      client.on('end', () => clearInterval(watchdog));
      const on = client.on.bind(client);
      const listening = Object.assign(client, {
        release: () => {
          clearInterval(watchdog);
          void client.end().catch(() => undefined);
        },
        on: (event: string, listener: (...args: unknown[]) => void) => {
          if (event !== 'notification') {
            on(event as 'end', listener as () => void);
            return listening;
          }
          on('notification', inOrder(listener));
          setImmediate(onListening);
          return listening;
        },
      });
      return listening;
    },
  } as unknown as pg.Pool;
}

/** The listener, called for one notification at a time, in the order they came: each waits for the one before. */
function inOrder(listener: (...args: unknown[]) => unknown): (...args: unknown[]) => void {
  let last: Promise<unknown> = Promise.resolve();
  return (...args: unknown[]) => {
    // The adapter's listener catches its own errors (its errorHandler); a rejection here must not stop the chain.
    last = last.then(() => listener(...args)).catch(() => undefined);
  };
}
