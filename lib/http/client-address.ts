import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The header server.ts sets on every request before Next sees it: route handlers do not see the
 * socket, so this is how they learn who is asking. Any incoming header of this name is removed first,
 * so a client cannot choose its own identity.
 */
export const CLIENT_ADDRESS_HEADER = 'x-finish-line-client-address';

const MAX_ADDRESS_LENGTH = 100;

/**
 * The client's address: the socket's peer, or behind a trusted reverse proxy the first
 * X-Forwarded-For hop (the address the proxy saw first). IPv4-mapped IPv6 addresses read as IPv4,
 * so one client has one key whichever way it connected.
 */
export function clientAddressOf(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustProxy: boolean): string {
  let address = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) address = first;
  }
  address = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1').toLowerCase();
  return address.slice(0, MAX_ADDRESS_LENGTH);
}

/** Replaces whatever the client sent under CLIENT_ADDRESS_HEADER with its real address. */
export function stampClientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustProxy: boolean): void {
  delete req.headers[CLIENT_ADDRESS_HEADER];
  req.headers[CLIENT_ADDRESS_HEADER] = clientAddressOf(req, trustProxy);
}

/**
 * What the batches table keeps of a client: a hash of its address, enough to count its batches
 * without storing the address itself.
 */
export function clientKeyOf(request: Request): string {
  const address = request.headers.get(CLIENT_ADDRESS_HEADER) ?? 'unknown';
  return createHash('sha256').update(`finish-line client:${address}`).digest('hex');
}

/** Whether the client reached us over HTTPS (through a trusted proxy, as it says): cookies then get `Secure`. */
export function isHttps(request: Request, trustProxy: boolean): boolean {
  if (new URL(request.url).protocol === 'https:') return true;
  return trustProxy && request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}
