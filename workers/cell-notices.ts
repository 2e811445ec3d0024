import pg from 'pg';
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import { CELL_NOTICE_CHANNEL } from '../lib/queue/cell-notices';

/** How long a lost listening connection waits before it connects again. */
const RECONNECT_MS = 1000;

/**
 * Listens for notices of new cells (lib/queue/cell-notices.ts) on a connection of its own and calls
 * `onNotice` with the batch's id. A lost connection is made again after a second; meanwhile (and
 * for any notice lost with it) the fetch loops' poll does the same job a little later. Returns the stop.
 */
export function listenForCellNotices(
  connectionString: string,
  onNotice: (batchId: string) => void,
  log: Logger,
  applicationName = 'finish-line-worker-notices',
): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (stopped) return;
    const c = new pg.Client({ connectionString, application_name: applicationName });
    client = c;
    const lost = (err?: unknown) => {
      if (client !== c) return;
      client = null;
      c.end().catch(() => undefined);
      if (stopped) return;
      if (err) log.debug('cell notices connection lost; reconnecting', { err: errorMessage(err) });
      retry = setTimeout(() => void connect(), RECONNECT_MS);
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', (n) => {
      if (n.channel === CELL_NOTICE_CHANNEL && n.payload) onNotice(n.payload);
    });
    try {
      await c.connect();
      await c.query(`listen ${CELL_NOTICE_CHANNEL}`);
      // Whatever was sent while we were not listening is caught up on now.
      onNotice('');
    } catch (err) {
      lost(err);
    }
  };
  void connect();

  return async () => {
    stopped = true;
    clearTimeout(retry);
    const c = client;
    client = null;
    await c?.end().catch(() => undefined);
  };
}
