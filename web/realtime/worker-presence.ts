import type pg from 'pg';
import { readIntake } from '../../lib/db/intake';
import { countLiveWorkers, liveWorkerTags } from '../../lib/db/workers';
import type { Logger } from '../../lib/log';
import type { WorkersStatusEvent } from '../../lib/realtime/events';
import type { RealtimeServer } from './server';

/**
 * Tells this server's sockets how many workers are alive (from their heartbeats in Postgres) and
 * whether intake is paused, and which tags they serve, so a page can say "no worker is running",
 * "intake is paused" or "no worker serves tag gpu" instead of spinning. Each web server reads and sends on its own; nothing crosses the adapter.
 */
export function watchWorkerPresence(io: RealtimeServer, pool: pg.Pool, log: Logger, heartbeatSeconds: number): () => void {
  // Three missed heartbeats mean a worker is gone.
  const window = heartbeatSeconds * 3;
  let status: WorkersStatusEvent | undefined;
  const refresh = async () => {
    try {
      const [alive, intake, tags] = await Promise.all([countLiveWorkers(pool, window), readIntake(pool), liveWorkerTags(pool, window)]);
      if (alive !== status?.alive || intake.paused !== status.intakePaused || tags.join(',') !== status.tags?.join(',')) {
        status = { alive, intakePaused: intake.paused, tags };
        io.local.emit('workers:status', status);
      }
    } catch (err) {
      log.debug('worker presence check failed', { err });
    }
  };
  const onConnection = (socket: Parameters<Parameters<RealtimeServer['on']>[1]>[0]) => {
    if (status !== undefined) socket.emit('workers:status', status);
  };
  io.on('connection', onConnection);
  const timer = setInterval(() => void refresh(), 2000);
  void refresh();
  return () => {
    clearInterval(timer);
    io.off('connection', onConnection);
  };
}
