import type pg from 'pg';
import { readBatchActivity } from '../../lib/db/workers';
import type { Logger } from '../../lib/log';
import { batchRoom, type BatchActivityEvent } from '../../lib/realtime/events';
import type { RealtimeServer } from './server';

const ROOM_PREFIX = batchRoom('');

/**
 * Every `intervalMs`, tells the sockets of this web server that follow a running batch what its
 * fan-out is doing (`batch:activity`): one read for all such batches, and nothing at all while no
 * socket here follows one. Each web server reads and sends on its own; nothing crosses the adapter.
 */
export function startBatchActivity(
  io: RealtimeServer,
  pool: pg.Pool,
  log: Logger,
  liveWithinSeconds: number,
  intervalMs = 1000,
): () => void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    const ids = [...io.of('/').adapter.rooms.keys()]
      .filter((room) => room.startsWith(ROOM_PREFIX))
      .map((room) => room.slice(ROOM_PREFIX.length));
    if (ids.length === 0) return;
    busy = true;
    try {
      for (const batch of await readBatchActivity(pool, ids, liveWithinSeconds)) {
        const held = batch.inFlight.reduce((n, w) => n + w.cells, 0);
        const event: BatchActivityEvent = {
          batchId: batch.id,
          total: batch.total,
          enqueued: batch.enqueued,
          queued: Math.max(0, batch.enqueued - batch.done - batch.failed - held),
          inFlight: batch.inFlight,
          done: batch.done,
          failed: batch.failed,
        };
        io.local.to(batchRoom(batch.id)).emit('batch:activity', event);
      }
    } catch (err) {
      log.debug('batch activity read failed', { err });
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  return () => clearInterval(timer);
}
