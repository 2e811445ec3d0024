import { isIP } from 'node:net';

/**
 * Host names every local client may use, always allowed in `Host` and `Origin`: a browser sends
 * them only for a page it loaded from this machine, so they are never a DNS-rebinding disguise.
 */
export const LOOPBACK_HOST_NAMES: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

// A DNS name: dot-separated labels of letters, digits and inner hyphens (a trailing dot allowed).
const DNS_NAME = /^(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/;

/**
 * A host name as `Host` headers and origins spell it, lower-cased, without a trailing dot, IPv6 in
 * brackets: `App.Example.com.` → `app.example.com`, `::1` or `[::1]` → `[::1]`. Null when `raw` is
 * not a bare host name or address (a port, a scheme, a path, spaces).
 */
export function normalizeHostName(raw: string): string | null {
  const text = raw.trim().toLowerCase();
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(bare) === 6) return `[${bare}]`;
  if (bare !== text) return null;
  if (isIP(text) === 4) return text;
  return DNS_NAME.test(text) ? text.replace(/\.$/, '') : null;
}

/**
 * The host name of a `Host` header (`Example.com:3000` → `example.com`, `[::1]:3000` → `[::1]`);
 * null when the header is not `name[:port]`.
 */
export function hostNameOfHeader(header: string): string | null {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(header.trim());
  return match ? normalizeHostName(match[1]) : null;
}

/**
 * Whether `host` (an address to listen on, or a host name in any of the spellings above) stays on
 * this machine: `localhost`, 127.0.0.0/8, `::1` (IPv4-mapped forms included).
 */
export function isLoopbackHost(host: string): boolean {
  const name = normalizeHostName(host);
  if (name === null) return false;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const address = name.replace(/^\[(.*)\]$/, '$1').replace(/^::ffff:(?=\d+\.)/, '');
  if (isIP(address) === 4) return address.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

/** Whether a listen address is every interface (`0.0.0.0`, `::`) rather than one concrete address. */
export function isWildcardAddress(host: string): boolean {
  const name = normalizeHostName(host);
  return name === '0.0.0.0' || name === '[::]' || name === '[0:0:0:0:0:0:0:0]';
}
