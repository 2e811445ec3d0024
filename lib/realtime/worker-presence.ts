import type pg from 'pg';
import { countLiveWorkers } from '../db/workers';
import type { Logger } from '../log';
import type { RealtimeServer } from './server';

/**
 * Tells this server's sockets how many workers are alive (from their heartbeats in Postgres), so a
 * page can say "no worker is running" instead of spinning. Each web server reads and sends on its
 * own; nothing crosses the adapter.
 */
export function watchWorkerPresence(io: RealtimeServer, pool: pg.Pool, log: Logger, heartbeatSeconds: number): () => void {
  // Three missed heartbeats mean a worker is gone.
  const window = heartbeatSeconds * 3;
  let alive: number | undefined;
  const refresh = async () => {
    try {
      const now = await countLiveWorkers(pool, window);
      if (now !== alive) {
        alive = now;
        io.local.emit('workers:status', { alive: now });
      }
    } catch (err) {
      log.debug('worker presence check failed', { err });
    }
  };
  const onConnection = (socket: Parameters<Parameters<RealtimeServer['on']>[1]>[0]) => {
    if (alive !== undefined) socket.emit('workers:status', { alive });
  };
  io.on('connection', onConnection);
  const timer = setInterval(() => void refresh(), 2000);
  void refresh();
  return () => {
    clearInterval(timer);
    io.off('connection', onConnection);
  };
}
