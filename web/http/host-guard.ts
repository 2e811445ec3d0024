import type { IncomingMessage, ServerResponse } from 'node:http';
import { FOREIGN_HOST, isHostAllowed } from '../../lib/origin';

/**
 * Refuses a request whose `Host` is not one of this server's names (see `isHostAllowed`) with
 * `403 forbidden_host`, before any page or route runs: a DNS-rebinding page then reads nothing and
 * changes nothing. `/healthz` is spared: it tells nothing, and probes address a container by its IP.
 * Returns whether it answered.
 */
export function answerForeignHost(req: IncomingMessage, res: ServerResponse, allowedHosts: readonly string[]): boolean {
  if (isHostAllowed(req.headers.host, allowedHosts)) return false;
  if ((req.url ?? '').split('?')[0] === '/healthz') return false;
  res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(FOREIGN_HOST));
  return true;
}
