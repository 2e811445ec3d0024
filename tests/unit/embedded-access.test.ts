import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HBA, hbaIsScramOnly } from '../../lib/db/embedded-credentials';
import { blockedDirectory, findSetpriv, holdsCapability, serverEnvironment, setprivPrefix } from '../../lib/db/embedded-os';

// As root, embedded PostgreSQL runs as its own OS user through setpriv. When a directory on the
// way to its binaries or data is private (mode 700, as `mktemp -d` or /root make it), that user
// gets CAP_DAC_READ_SEARCH to pass through instead of the folder being loosened; blockedDirectory
// tells when. Its environment carries none of the app's secrets.

const OTHER = { uid: 54_321, gid: 54_321 };
let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function tree(mode: number) {
  const top = mkdtempSync(path.join(tmpdir(), 'fl-access-'));
  dirs.push(top);
  const inner = path.join(top, 'repo', 'node_modules');
  mkdirSync(inner, { recursive: true });
  chmodSync(top, mode);
  return { top, inner };
}

describe('blockedDirectory', () => {
  it('names the first directory another user cannot enter', () => {
    const { top, inner } = tree(0o700);
    expect(blockedDirectory(inner, OTHER)).toBe(top);
    expect(blockedDirectory(path.join(inner, 'not-yet-created', 'pg'), OTHER)).toBe(top);
  });

  it('passes a path every directory of which others may enter', () => {
    const { inner } = tree(0o711);
    expect(blockedDirectory(inner, OTHER)).toBeNull();
  });

  it('lets the owner and the group through on their own bits', () => {
    const { top, inner } = tree(0o710);
    expect(blockedDirectory(inner, OTHER)).toBe(top);
    expect(blockedDirectory(inner, { uid: OTHER.uid, gid: process.getgid!() })).toBeNull();
    chmodSync(top, 0o700);
    expect(blockedDirectory(inner, { uid: process.getuid!(), gid: OTHER.gid })).toBeNull();
  });
});

describe('running PostgreSQL as its own OS user', () => {
  const user = { name: 'postgres', uid: 101, gid: 104 };

  it('passes through private directories with one capability, and no other', () => {
    const args = setprivPrefix('/usr/bin/setpriv', user, true);
    expect(args.slice(0, 6)).toEqual([
      '/usr/bin/setpriv',
      '--reuid=101',
      '--regid=104',
      '--clear-groups',
      '--no-new-privs',
      '--securebits=+no_setuid_fixup',
    ]);
    expect(args).toContain('--bounding-set=-all,+dac_read_search');
    expect(args).toContain('--ambient-caps=+dac_read_search');
    expect(args.at(-1)).toBe('--');
  });

  it('gets no capability at all when nothing on the way is private', () => {
    const args = setprivPrefix('/usr/bin/setpriv', user, false);
    expect(args).toContain('--bounding-set=-all');
    expect(args.join(' ')).not.toContain('dac_read_search');
  });

  it('finds setpriv on PATH or where distributions put it, and says so when it is missing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fl-setpriv-'));
    dirs.push(dir);
    writeFileSync(path.join(dir, 'setpriv'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findSetpriv(`/nonexistent${path.delimiter}${dir}`, [])).toBe(path.join(dir, 'setpriv'));
    expect(findSetpriv('/nonexistent', [])).toBeNull();
    expect(findSetpriv(undefined, [path.join(dir, 'setpriv')])).toBe(path.join(dir, 'setpriv'));
  });

  it('reads the capability sets of /proc/self/status', () => {
    const status = (eff: string, bnd: string) =>
      `Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t${eff}\nCapEff:\t${eff}\nCapBnd:\t${bnd}\n`;
    expect(holdsCapability(2n, status('000001fffeffffff', '000001fffeffffff'))).toBe(true);
    // Docker's default set: CAP_DAC_OVERRIDE (1) but not CAP_DAC_READ_SEARCH (2).
    expect(holdsCapability(2n, status('00000000a80425fb', '00000000a80425fb'))).toBe(false);
    expect(holdsCapability(2n, '')).toBe(false);
  });

  it('hands the postmaster PATH, locale and time zone, never the app’s secrets', () => {
    const env = serverEnvironment({
      PATH: '/usr/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'de_DE.UTF-8',
      TZ: 'UTC',
      DASHBOARD_TOKEN: 'secret',
      WORKER_TOKEN: 'secret',
      DATABASE_URL: 'postgres://u:p@h/d',
      HOME: '/root',
      NODE_OPTIONS: '--inspect',
    });
    expect(env).toEqual({ PATH: '/usr/bin', LANG: 'C.UTF-8', TZ: 'UTC', LC_MESSAGES: 'C' });
  });
});

describe('pg_hba.conf', () => {
  it('is SCRAM only as we write it, and not as earlier versions left it', () => {
    expect(hbaIsScramOnly(HBA)).toBe(true);
    expect(hbaIsScramOnly('# comment\nlocal all all password\nhost all all 127.0.0.1/32 scram-sha-256\n')).toBe(false);
    expect(hbaIsScramOnly('host all all 127.0.0.1/32 trust # scram-sha-256\n')).toBe(false);
    expect(hbaIsScramOnly('')).toBe(false);
  });
});
