/**
 * Whether a request from `origin` may change state (POST) or open a socket. No Origin header means
 * no browser page is behind the request (curl, scripts, server to server), so there is no page to
 * protect from and it may. A browser always sends Origin on cross-origin POSTs and on WebSocket
 * handshakes; it is allowed when it names this server (its host equals the request's Host) or one of
 * the configured origins.
 */
export function isOriginAllowed(origin: string | null | undefined, host: string | null | undefined, allowed: readonly string[]): boolean {
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
  return typeof host === 'string' && host.length > 0 && url.host === host.toLowerCase();
}
