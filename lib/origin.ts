import { hostNameOfHeader, LOOPBACK_HOST_NAMES } from './host-names';
import type { ErrorBody } from './types';

/**
 * Whether a request naming `host` in its `Host` header is for this server. A DNS-rebinding page
 * (evil.example, its name pointed at this machine after it loaded) sends `Host: evil.example` and
 * an Origin to match, which would pass a same-origin check: only names on the allow-list
 * (ALLOWED_HOSTS, see config) are ours. No Host at all (HTTP/1.0 scripts) is no browser, so it may.
 */
export function isHostAllowed(host: string | null | undefined, allowedHosts: readonly string[]): boolean {
  if (host === null || host === undefined) return true;
  if (allowedHosts.includes('*')) return true;
  const name = hostNameOfHeader(host);
  return name !== null && allowedHosts.includes(name);
}

/**
 * Whether a request from `origin` may change state (POST) or open a socket. No Origin header means
 * no browser page is behind the request (curl, scripts, server to server), so there is no page to
 * protect from and it may. A browser always sends Origin on cross-origin POSTs and on WebSocket
 * handshakes; it is allowed when it names this server (its host equals the request's Host, and,
 * given `allowedHosts`, is one of them) or one of the configured origins.
 */
export function isOriginAllowed(
  origin: string | null | undefined,
  host: string | null | undefined,
  allowed: readonly string[],
  allowedHosts?: readonly string[],
): boolean {
  if (origin === null || origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    // "null" (sandboxed frames, file: pages) and garbage name no origin we could trust.
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (allowed.includes(url.origin)) return true;
  const sameOrigin = typeof host === 'string' && host.length > 0 && url.host === host.toLowerCase();
  return sameOrigin && (allowedHosts === undefined || isHostAllowed(url.host, allowedHosts));
}

/** The answer to a request for a host name this server does not answer to (see `isHostAllowed`). */
export const FOREIGN_HOST: ErrorBody = Object.freeze({
  error: {
    code: 'forbidden_host',
    message:
      'This server does not answer to that host name. Use the address the operator gave you, or ask them to add the name to ALLOWED_HOSTS.',
  },
});

const FOREIGN_SOCKET_ORIGIN: ErrorBody = Object.freeze({
  error: {
    code: 'forbidden_origin',
    message: 'Pages from this origin may not open a socket to this server. Ask the operator to add the origin to ALLOWED_ORIGINS.',
  },
});

/**
 * Why a Socket.IO request is refused, as the contract's error body (`403`), or null when it may go
 * on: its Host must be ours, then its Origin, as for HTTP.
 */
export function handshakeRefusal(
  headers: { host?: string; origin?: string },
  allowedOrigins: readonly string[],
  allowedHosts: readonly string[] = LOOPBACK_HOST_NAMES,
): ErrorBody | null {
  if (!isHostAllowed(headers.host, allowedHosts)) return FOREIGN_HOST;
  if (!isOriginAllowed(headers.origin, headers.host, allowedOrigins, allowedHosts)) return FOREIGN_SOCKET_ORIGIN;
  return null;
}
