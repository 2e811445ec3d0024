import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { CLIENT_ADDRESS_HEADER, clientAddressOf, clientKeyOf, stampClientAddress } from '../../web/http/client-address';
import { isOriginAllowed } from '../../lib/origin';
import { contentSecurityPolicy } from '../../lib/security-headers';
import { hashSession, newSession, readSession, sessionCookie } from '../../web/http/session';
import { createJoinLimiter } from '../../web/realtime/join-limits';

describe('isOriginAllowed', () => {
  const allowed = ['https://app.example'];
  it.each([
    [undefined, 'localhost:3000', true, 'no Origin (a script)'],
    ['http://localhost:3000', 'localhost:3000', true, 'same origin'],
    ['http://LOCALHOST:3000', 'localhost:3000', true, 'same origin, other case'],
    ['https://app.example', 'internal:3000', true, 'listed'],
    ['https://app.example:443', 'internal:3000', true, 'listed, default port spelled out'],
    ['http://app.example', 'internal:3000', false, 'listed host, other scheme'],
    ['https://app.example.evil.com', 'internal:3000', false, 'listed name as a prefix'],
    ['http://localhost:3001', 'localhost:3000', false, 'other port'],
    ['null', 'localhost:3000', false, 'opaque origin'],
    ['file://', 'localhost:3000', false, 'file page'],
    ['garbage', 'localhost:3000', false, 'not a URL'],
    ['http://localhost:3000', undefined, false, 'no Host to compare with'],
  ] as [string | undefined, string | undefined, boolean, string][])('%s with Host %s → %s (%s)', (origin, host, expected) => {
    expect(isOriginAllowed(origin, host, allowed)).toBe(expected);
  });
});

describe('client address', () => {
  const req = (remoteAddress: string | undefined, headers: Record<string, string | string[]> = {}) =>
    ({ socket: { remoteAddress }, headers }) as never;

  it('is the socket peer, IPv4-mapped addresses read as IPv4', () => {
    expect(clientAddressOf(req('::ffff:127.0.0.1', { 'x-forwarded-for': '1.2.3.4' }), false)).toBe('127.0.0.1');
    expect(clientAddressOf(req('2001:DB8::1'), false)).toBe('2001:db8::1');
    expect(clientAddressOf(req(undefined), false)).toBe('unknown');
  });

  // Which X-Forwarded-For entry counts (the right-most untrusted hop): tests/unit/client-address.test.ts.
  it('with TRUST_PROXY, comes from X-Forwarded-For and is always an IP address', () => {
    expect(clientAddressOf(req('10.0.0.1', { 'x-forwarded-for': ' 1.2.3.4 , 10.0.0.1' }), 2)).toBe('1.2.3.4');
    expect(clientAddressOf(req('10.0.0.1'), true)).toBe('10.0.0.1');
    expect(clientAddressOf(req('10.0.0.1', { 'x-forwarded-for': 'a'.repeat(500) }), true)).toBe('10.0.0.1');
  });

  it('replaces any client-sent internal header, and hashes into the key', () => {
    const request = req('127.0.0.1', { [CLIENT_ADDRESS_HEADER]: 'spoofed' });
    stampClientAddress(request, false);
    expect((request as { headers: Record<string, string> }).headers[CLIENT_ADDRESS_HEADER]).toBe('127.0.0.1');
    const key = (address: string) => clientKeyOf(new Request('http://x/', { headers: { [CLIENT_ADDRESS_HEADER]: address } }));
    expect(key('127.0.0.1')).toMatch(/^[0-9a-f]{64}$/);
    expect(key('127.0.0.1')).not.toBe(key('127.0.0.2'));
  });
});

describe('session cookie', () => {
  it('issues 43-character random ids and reads back only well-formed ones', () => {
    const id = newSession();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newSession()).not.toBe(id);
    const withCookie = (cookie: string) => new Request('http://x/', { headers: { cookie } });
    expect(readSession(withCookie(`a=1; fl_session=${id}; b=2`))).toBe(id);
    expect(readSession(withCookie('fl_session=short'))).toBeNull();
    expect(readSession(withCookie(`fl_session=${id}x`))).toBeNull();
    expect(readSession(new Request('http://x/'))).toBeNull();
    expect(sessionCookie(id, false)).toBe(`fl_session=${id}; Path=/; HttpOnly; SameSite=Lax`);
    expect(sessionCookie(id, true)).toMatch(/; Secure$/);
    expect(hashSession(id)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('createJoinLimiter', () => {
  it('admits a burst, refills at the rate, and disconnects a socket that keeps going', () => {
    let now = 0;
    const take = createJoinLimiter({ burst: 3, perSecond: 2, maxBatches: 10, strikesToDisconnect: 4 }, () => now);
    expect([take(), take(), take(), take()]).toEqual(['ok', 'ok', 'ok', 'refused']);
    now += 500; // one token back; strikes fade by half
    expect([take(), take()]).toEqual(['ok', 'refused']);
    expect([take(), take(), take()]).toEqual(['refused', 'refused', 'disconnect']);
  });

  it('forgives a socket that pauses', () => {
    let now = 0;
    const take = createJoinLimiter({ burst: 1, perSecond: 1, maxBatches: 10, strikesToDisconnect: 3 }, () => now);
    expect([take(), take(), take()]).toEqual(['ok', 'refused', 'refused']);
    now += 10_000;
    expect([take(), take(), take()]).toEqual(['ok', 'refused', 'refused']);
  });
});

describe('contentSecurityPolicy', () => {
  it('allows scripts by nonce only, names the socket host, and forbids framing', () => {
    const csp = contentSecurityPolicy('abc', 'example.com:3000', false);
    expect(csp).toContain("script-src 'self' 'nonce-abc' 'strict-dynamic'");
    expect(csp).toContain("connect-src 'self' ws://example.com:3000 wss://example.com:3000");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
  });

  it('leaves out a Host that could inject directives', () => {
    expect(contentSecurityPolicy('abc', 'evil; script-src *', false)).toContain("connect-src 'self';");
  });

  it("allows eval and inline styles only in development (Next's dev tooling)", () => {
    expect(contentSecurityPolicy('abc', 'localhost', true)).toMatch(/'unsafe-eval'.*style-src 'self' 'unsafe-inline'/);
  });
});

describe('hardening settings', () => {
  it('have defaults', () => {
    const cfg = loadConfig({});
    expect(cfg).toMatchObject({
      allowedOrigins: [],
      batchesPerMinute: 30,
      runningBatchesPerClient: 5,
      trustProxy: false,
      dashboardToken: undefined,
    });
  });

  it('are read and normalized', () => {
    const cfg = loadConfig({
      ALLOWED_ORIGINS: 'https://A.example, http://b.example:8080/',
      BATCHES_PER_MINUTE: '100',
      RUNNING_BATCHES_PER_CLIENT: '9',
      TRUST_PROXY: 'true',
      DASHBOARD_TOKEN: ' tok ',
    });
    expect(cfg).toMatchObject({
      allowedOrigins: ['https://a.example', 'http://b.example:8080'],
      batchesPerMinute: 100,
      runningBatchesPerClient: 9,
      trustProxy: true,
      dashboardToken: 'tok',
    });
  });

  it('are refused when they cannot work', () => {
    let error: unknown;
    try {
      loadConfig({
        ALLOWED_ORIGINS: 'example.com,https://x.example/path',
        BATCHES_PER_MINUTE: '0',
        RUNNING_BATCHES_PER_CLIENT: 'many',
        TRUST_PROXY: 'maybe',
      });
    } catch (err) {
      error = err;
    }
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/ALLOWED_ORIGINS.*example\.com/);
    expect(problems).toMatch(/ALLOWED_ORIGINS.*x\.example\/path/);
    expect(problems).toMatch(/BATCHES_PER_MINUTE/);
    expect(problems).toMatch(/RUNNING_BATCHES_PER_CLIENT/);
    expect(problems).toMatch(/TRUST_PROXY/);
  });
});
