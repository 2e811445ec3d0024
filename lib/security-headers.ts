import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The page's Content-Security-Policy. Scripts run only with this response's nonce (Next puts it on
 * every script it renders, reading it from the request's CSP header) or when such a script loads
 * them ('strict-dynamic': Next's chunk loader); nothing inline otherwise, no eval outside
 * development. The live view's WebSocket goes to this same host.
 */
export function contentSecurityPolicy(nonce: string, host: string | undefined, dev: boolean): string {
  // CSP 3 lets 'self' cover ws: and wss: to the same host; older engines need them named.
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    // Next's development overlay injects styles without a nonce; production pages use stylesheets.
    dev ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers every response carries, pages, API answers and static files alike. */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/**
 * Sets the security headers on a response before Next writes it, and hands Next this response's
 * nonce the way Next's documented proxy.ts recipe does: as the request's own CSP header (any the
 * client sent is replaced, so a client cannot pick the nonce).
 */
export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse, dev: boolean): void {
  const nonce = randomBytes(16).toString('base64');
  const csp = contentSecurityPolicy(nonce, req.headers.host, dev);
  delete req.headers['content-security-policy-report-only'];
  req.headers['content-security-policy'] = csp;
  res.setHeader('content-security-policy', csp);
  for (const [name, value] of Object.entries(STATIC_SECURITY_HEADERS)) res.setHeader(name, value);
}
