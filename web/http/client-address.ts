import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The header server.ts sets on every request before Next sees it: route handlers do not see the
 * socket, so this is how they learn who is asking. Any incoming header of this name is removed first,
 * so a client cannot choose its own identity.
 */
export const CLIENT_ADDRESS_HEADER = 'x-finish-line-client-address';

/** Entries of X-Forwarded-For looked at, at most: a header longer than that is someone's invention. */
const MAX_FORWARDED_ENTRIES = 32;

/**
 * The client's address. Without trusted proxies (`trustedHops` 0 or false), the socket's peer.
 * Behind `trustedHops` reverse proxies, each appends the address it saw to X-Forwarded-For, so the
 * path is [...X-Forwarded-For, socket peer] and the right-most `trustedHops` entries of it are our
 * own proxies; the client is the entry just left of them. Everything further left was written by the
 * client and proves nothing (a fresh random header per request must not make a fresh client). A
 * shorter path than that means fewer proxies than configured: its left-most entry is the best we
 * know. An entry that is not an IP address (garbage, a name) gives the socket's peer instead.
 * IPv4-mapped IPv6 addresses read as IPv4, so one client has one address whichever way it connected.
 * `true` means one proxy, as TRUST_PROXY=true always has.
 */
export function clientAddressOf(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustedHops: number | boolean): string {
  const hops = trustedHops === true ? 1 : trustedHops === false ? 0 : trustedHops;
  const peer = normalizeIp(req.socket.remoteAddress ?? '') ?? 'unknown';
  if (hops <= 0) return peer;
  const forwarded = req.headers['x-forwarded-for'];
  const entries = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
    .split(',')
    .slice(-MAX_FORWARDED_ENTRIES)
    .map((entry) => entry.trim())
    .filter(Boolean);
  const path = [...entries, peer];
  const chosen = path[Math.max(0, path.length - 1 - hops)];
  return chosen === peer ? peer : (normalizeIp(chosen) ?? peer);
}

/**
 * A valid IP address in one spelling (lower case, IPv4-mapped as IPv4), or null. Accepts the port
 * and bracket forms some proxies write (`1.2.3.4:5678`, `[2001:db8::1]:443`).
 */
export function normalizeIp(raw: string): string | null {
  let text = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) text = bracketed[1];
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(text)) text = text.slice(0, text.lastIndexOf(':'));
  // A zone (fe80::1%eth0) names this host's interface, not the client.
  text = text.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped) text = mapped[1];
  return isIP(text) === 0 ? null : text;
}

/**
 * What the rate limits count as one client: an IPv4 address, or an IPv6 /64. One IPv6 host is
 * usually handed a whole /64, so per-address keys would give it 2^64 fresh buckets.
 */
export function rateLimitSubject(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, each as written without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms that are not mapped, 64:ff9b::1.2.3.4) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16));
}

/** Replaces whatever the client sent under CLIENT_ADDRESS_HEADER with its real address. */
export function stampClientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustedHops: number | boolean): void {
  delete req.headers[CLIENT_ADDRESS_HEADER];
  req.headers[CLIENT_ADDRESS_HEADER] = clientAddressOf(req, trustedHops);
}

/**
 * What the batches table keeps of a client: a hash of its rate-limit subject (its IPv4 address or
 * IPv6 /64), enough to count its batches without storing the address itself.
 */
export function clientKeyOf(request: Request): string {
  const address = request.headers.get(CLIENT_ADDRESS_HEADER) ?? 'unknown';
  return createHash('sha256')
    .update(`finish-line client:${rateLimitSubject(address)}`)
    .digest('hex');
}

/** Whether the client reached us over HTTPS (through a trusted proxy, as it says): cookies then get `Secure`. */
export function isHttps(request: Request, trustProxy: boolean): boolean {
  if (new URL(request.url).protocol === 'https:') return true;
  return trustProxy && request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
}
