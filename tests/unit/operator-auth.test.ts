import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { hostNameOfHeader, isLoopbackHost } from '../../lib/host-names';
import {
  exposureProblem,
  isOperator,
  isOperatorAuthorization,
  isOperatorHandshake,
  mayCancel,
  operatorPolicy,
} from '../../lib/operator-auth';
import { handshakeRefusal, isHostAllowed, isOriginAllowed } from '../../lib/origin';

// The one rule for operator controls, and the Host allow-list, as pure functions. The integration
// test closed-by-default.test.ts runs them in real processes.

const policyOf = (env: Record<string, string>) => operatorPolicy(loadConfig(env));

describe('operatorPolicy: whether only this machine can reach the server', () => {
  it.each([
    [{}, true, 'the defaults'],
    [{ HOST: '127.0.0.1' }, true, 'loopback'],
    [{ HOST: '::1' }, true, 'IPv6 loopback'],
    [{ HOST: 'localhost' }, true, 'localhost'],
    [{ HOST: '0.0.0.0', DASHBOARD_TOKEN: 't' }, false, 'every interface'],
    [{ HOST: '192.168.1.5', DASHBOARD_TOKEN: 't' }, false, 'a LAN address'],
    [{ TRUST_PROXY: 'true' }, false, 'behind a proxy, which forwards clients from anywhere'],
    [{ ALLOWED_HOSTS: 'app.example.com' }, false, 'answering to a public name'],
    [{ ALLOWED_HOSTS: '*' }, false, 'answering to any name'],
    [{ ALLOWED_HOSTS: 'dev.localhost,127.0.0.2' }, true, 'more loopback names'],
  ] as [Record<string, string>, boolean, string][])('%o → localOnly %s (%s)', (env, localOnly) => {
    expect(policyOf(env).localOnly).toBe(localOnly);
  });
});

describe('isOperator: one answer for HTTP, the dashboard socket, /metrics and the priority ceiling', () => {
  const withToken = { token: 's3cret', localOnly: false };
  const withTokenLocal = { token: 's3cret', localOnly: true };
  const openLocal = { token: undefined, localOnly: true };
  const exposedNoToken = { token: undefined, localOnly: false };

  it('with a token, only its holder, wherever the server listens', () => {
    for (const policy of [withToken, withTokenLocal]) {
      expect(isOperator(policy, 's3cret')).toBe(true);
      for (const token of [null, undefined, '', 'wrong', 's3cret ', 'S3CRET']) expect(isOperator(policy, token)).toBe(false);
      expect(isOperatorAuthorization(policy, 'Bearer s3cret')).toBe(true);
      expect(isOperatorAuthorization(policy, 'bearer  s3cret ')).toBe(true);
      // Over HTTP the token counts only as a Bearer credential, on every route alike.
      for (const header of [null, 's3cret', 'Basic s3cret', 'Bearer wrong', 'Bearer s3cret extra']) {
        expect(isOperatorAuthorization(policy, header)).toBe(false);
      }
      expect(isOperatorHandshake(policy, { token: 's3cret' })).toBe(true);
      for (const auth of [undefined, null, {}, { token: 42 }, { token: 'wrong' }, 's3cret'])
        expect(isOperatorHandshake(policy, auth)).toBe(false);
    }
  });

  it('without a token, on a local-only server everyone is an operator, over HTTP and the socket alike', () => {
    for (const token of [null, 'anything']) expect(isOperator(openLocal, token)).toBe(true);
    expect(isOperatorAuthorization(openLocal, null)).toBe(true);
    expect(isOperatorHandshake(openLocal, {})).toBe(true);
  });

  it('without a token, a server reachable from beyond loopback has no operator at all', () => {
    for (const token of [null, 'anything']) expect(isOperator(exposedNoToken, token)).toBe(false);
    expect(isOperatorAuthorization(exposedNoToken, 'Bearer anything')).toBe(false);
    expect(isOperatorHandshake(exposedNoToken, { token: 'anything' })).toBe(false);
  });

  it("cancel: the batch's own session, or an operator", () => {
    expect(mayCancel(withToken, null, true)).toBe(true);
    expect(mayCancel(withToken, null, false)).toBe(false);
    expect(mayCancel(withToken, 's3cret', false)).toBe(true);
    expect(mayCancel(exposedNoToken, null, false)).toBe(false);
    expect(mayCancel(exposedNoToken, null, true)).toBe(true);
    expect(mayCancel(openLocal, null, false)).toBe(true);
  });
});

describe('exposureProblem: a server reachable beyond loopback needs a token to start', () => {
  it('refuses every non-loopback HOST without a token, and says what to do', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'my-box']) {
      const problem = exposureProblem({ host, dashboardToken: undefined });
      expect(problem).toMatch(new RegExp(`HOST=${host.replace(/\./g, '\\.')}`));
      expect(problem).toMatch(/Set DASHBOARD_TOKEN/);
      expect(problem).toMatch(/HOST=127\.0\.0\.1/);
    }
  });

  it('lets loopback start without a token, and anything with one', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost'])
      expect(exposureProblem({ host, dashboardToken: undefined })).toBeNull();
    expect(exposureProblem({ host: '0.0.0.0', dashboardToken: 't' })).toBeNull();
  });
});

describe('host names', () => {
  it.each([
    ['localhost:3000', 'localhost'],
    ['LOCALHOST', 'localhost'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['[::1]:3000', '[::1]'],
    ['[::1]', '[::1]'],
    ['evil.example.', 'evil.example'],
    ['a@b', null],
    ['a b', null],
    ['::1', null],
    ['', null],
  ] as [string, string | null][])('Host %s names %s', (header, name) => {
    expect(hostNameOfHeader(header)).toBe(name);
  });

  it('loopback is localhost, 127.0.0.0/8 and ::1 (mapped forms too), nothing else', () => {
    for (const host of ['localhost', 'app.localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.evil.example', 'example.com', '*', '::2'])
      expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('the Host allow-list and DNS rebinding', () => {
  const hosts = ['localhost', '127.0.0.1', '[::1]', 'app.example'];

  it('isHostAllowed: listed names on any port; no Host is no browser; * allows any', () => {
    expect(isHostAllowed('localhost:3000', hosts)).toBe(true);
    expect(isHostAllowed('APP.example:443', hosts)).toBe(true);
    expect(isHostAllowed('[::1]:3000', hosts)).toBe(true);
    expect(isHostAllowed(undefined, hosts)).toBe(true);
    expect(isHostAllowed('evil.example:3000', hosts)).toBe(false);
    expect(isHostAllowed('app.example.evil.example', hosts)).toBe(false);
    expect(isHostAllowed('', hosts)).toBe(false);
    expect(isHostAllowed('evil.example', ['*'])).toBe(true);
  });

  it('a same-origin Origin counts only when its host is allowed: the rebinding page (Host and Origin both evil) fails', () => {
    expect(isOriginAllowed('http://evil.example:3000', 'evil.example:3000', [], hosts)).toBe(false);
    expect(isOriginAllowed('http://localhost:3000', 'localhost:3000', [], hosts)).toBe(true);
    // Without the list, the check is the origin rule alone (as before).
    expect(isOriginAllowed('http://evil.example:3000', 'evil.example:3000', [])).toBe(true);
  });

  it('handshakeRefusal: Host first, then Origin; defaults to the loopback names', () => {
    expect(handshakeRefusal({ host: 'evil.example:3000', origin: 'http://evil.example:3000' }, [])).toEqual({
      error: { code: 'forbidden_host', message: expect.stringMatching(/ALLOWED_HOSTS/) },
    });
    expect(handshakeRefusal({ host: 'localhost:3000', origin: 'http://evil.example' }, [])).toEqual({
      error: { code: 'forbidden_origin', message: expect.stringMatching(/ALLOWED_ORIGINS/) },
    });
    expect(handshakeRefusal({ host: 'localhost:3000', origin: 'http://localhost:3000' }, [])).toBeNull();
    expect(handshakeRefusal({ host: 'app.example', origin: 'https://app.example' }, [], hosts)).toBeNull();
    expect(handshakeRefusal({ host: '127.0.0.1:3000' }, [])).toBeNull();
  });
});
