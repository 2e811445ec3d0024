import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { CLIENT_ADDRESS_HEADER, clientAddressOf, clientKeyOf, normalizeIp, rateLimitSubject } from '../../web/http/client-address';

const req = (remoteAddress: string | undefined, forwarded?: string | string[]) =>
  ({ socket: { remoteAddress }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as never;
const keyOf = (address: string) => clientKeyOf(new Request('http://x/', { headers: { [CLIENT_ADDRESS_HEADER]: address } }));

describe('client address behind trusted proxies (X-Forwarded-For)', () => {
  it('is the right-most entry our one proxy wrote, whatever the client put left of it', () => {
    // The proxy at 10.0.0.1 appended the address it saw (203.0.113.7); the rest is the client's own text.
    expect(clientAddressOf(req('10.0.0.1', '1.2.3.4, 203.0.113.7'), 1)).toBe('203.0.113.7');
    expect(clientAddressOf(req('10.0.0.1', `${Math.random()}, 9.9.9.9, 203.0.113.7`), true)).toBe('203.0.113.7');
  });

  it('skips as many hops as there are proxies', () => {
    expect(clientAddressOf(req('10.0.0.1', '1.2.3.4, 203.0.113.7, 10.0.0.2'), 2)).toBe('203.0.113.7');
    expect(clientAddressOf(req('10.0.0.1', '1.2.3.4, 203.0.113.7, 10.0.0.2'), 3)).toBe('1.2.3.4');
    // Fewer entries than proxies: the left-most is the furthest we know.
    expect(clientAddressOf(req('10.0.0.1', '203.0.113.7'), 3)).toBe('203.0.113.7');
    expect(clientAddressOf(req('10.0.0.1'), 2)).toBe('10.0.0.1');
  });

  it('reads several X-Forwarded-For headers as one list', () => {
    expect(clientAddressOf(req('10.0.0.1', ['1.2.3.4', '203.0.113.7']), 1)).toBe('203.0.113.7');
  });

  it('falls back to the socket peer when the chosen entry is not an IP address', () => {
    expect(clientAddressOf(req('10.0.0.1', 'not-an-ip'), 1)).toBe('10.0.0.1');
    expect(clientAddressOf(req('10.0.0.1', '1.2.3.4, 999.1.1.1'), 1)).toBe('10.0.0.1');
    expect(clientAddressOf(req('10.0.0.1', 'a'.repeat(500)), 1)).toBe('10.0.0.1');
    expect(clientAddressOf(req('10.0.0.1', ''), 1)).toBe('10.0.0.1');
  });

  it('ignores X-Forwarded-For without trusted proxies', () => {
    expect(clientAddressOf(req('::ffff:127.0.0.1', '1.2.3.4'), 0)).toBe('127.0.0.1');
    expect(clientAddressOf(req('::ffff:127.0.0.1', '1.2.3.4'), false)).toBe('127.0.0.1');
  });

  it('normalizes spellings: case, IPv4-mapped, ports, brackets, zones', () => {
    expect(clientAddressOf(req('10.0.0.1', '2001:DB8::1'), 1)).toBe('2001:db8::1');
    expect(clientAddressOf(req('10.0.0.1', '::FFFF:198.51.100.2'), 1)).toBe('198.51.100.2');
    expect(normalizeIp('198.51.100.2:4711')).toBe('198.51.100.2');
    expect(normalizeIp('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(normalizeIp('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeIp('example.com')).toBeNull();
    expect(normalizeIp('1.2.3')).toBeNull();
  });
});

describe('rate-limit subject', () => {
  it('is an IPv4 address as is, and an IPv6 address by its /64', () => {
    expect(rateLimitSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitSubject('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitSubject('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(rateLimitSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(rateLimitSubject('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitSubject('64:ff9b::198.51.100.2')).toBe('64:ff9b:0:0::/64');
    expect(rateLimitSubject('unknown')).toBe('unknown');
  });

  it('gives one key per /64 and different keys across /64s', () => {
    expect(keyOf('2001:db8:1:2:aaaa::1')).toBe(keyOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(keyOf('2001:db8:1:2::1')).not.toBe(keyOf('2001:db8:1:3::1'));
    expect(keyOf('203.0.113.7')).not.toBe(keyOf('203.0.113.8'));
  });
});

describe('TRUST_PROXY', () => {
  it('keeps true and false, and takes a number of hops', () => {
    expect(loadConfig({})).toMatchObject({ trustProxy: false, trustProxyHops: 0 });
    expect(loadConfig({ TRUST_PROXY: 'false' })).toMatchObject({ trustProxy: false, trustProxyHops: 0 });
    expect(loadConfig({ TRUST_PROXY: '0' })).toMatchObject({ trustProxy: false, trustProxyHops: 0 });
    expect(loadConfig({ TRUST_PROXY: 'true' })).toMatchObject({ trustProxy: true, trustProxyHops: 1 });
    expect(loadConfig({ TRUST_PROXY: '1' })).toMatchObject({ trustProxy: true, trustProxyHops: 1 });
    expect(loadConfig({ TRUST_PROXY: '3' })).toMatchObject({ trustProxy: true, trustProxyHops: 3 });
  });

  it('refuses anything else', () => {
    for (const value of ['maybe', '-1', '11', '1.5']) {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(ConfigError);
    }
  });
});

describe('fair-use and pool settings', () => {
  it('have defaults', () => {
    expect(loadConfig({})).toMatchObject({
      maxActiveCells: 5_000_000,
      maxPublicPriority: 10,
      fanoutPoolSize: 2,
      dbSessionTimeouts: { idleInTransactionMs: 15_000, lockMs: 5000 },
      retentionMaxCells: 20_000_000,
    });
  });

  it('refuse a global cap below the largest batch', () => {
    expect(() => loadConfig({ MAX_ACTIVE_CELLS: '1000' })).toThrow(/MAX_ACTIVE_CELLS/);
    expect(loadConfig({ MAX_ACTIVE_CELLS: '1000', MAX_CELLS: '1000' }).maxActiveCells).toBe(1000);
  });
});
