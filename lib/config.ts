import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Every setting of every process, parsed and validated once. Nothing else reads `process.env`. */
export interface Config {
  /** Absent: the start script runs an embedded PostgreSQL and hands its URL to the processes it starts. */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  dev: boolean;
  logLevel: LogLevel;
  dbPoolSize: number;
  /** Embedded PostgreSQL: where its data lives and which port it listens on (loopback only). */
  embeddedPg: { dataDir: string; port: number };
  /** Worker processes the start script keeps running. */
  workers: number;
  workerId: string;
  maxCells: number;
  /** Cell jobs a worker fetches, records and completes in one transaction. */
  workerFetchSize: number;
  /** Independent fetch loops per worker process. */
  workerLoops: number;
  /** Cell jobs inserted per statement while a batch fans out. */
  fanoutChunkSize: number;
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Readonly<Config> {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }

  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of debug, info, warn, error, silent (got "${env.LOG_LEVEL}")`);
  }

  const config: Config = {
    databaseUrl,
    port: int('PORT', 3000, 0, 65535),
    host: env.HOST?.trim() || '0.0.0.0',
    dev: env.NODE_ENV === 'development',
    logLevel,
    dbPoolSize: int('DB_POOL_SIZE', 10, 2, 200),
    embeddedPg: {
      // A path from the environment, not a bundle input: keep Turbopack from tracing the project.
      dataDir: path.resolve(/*turbopackIgnore: true*/ env.PG_DATA_DIR?.trim() || '.data/postgres'),
      port: int('PG_PORT', 54329, 1024, 65535),
    },
    workers: int('WORKERS', availableParallelism(), 0, 64),
    workerId: env.WORKER_ID?.trim() || `${hostname()}-${process.pid}`,
    maxCells: int('MAX_CELLS', 1_000_000, 1, 1_000_000),
    workerFetchSize: int('WORKER_FETCH_SIZE', 1000, 1, 5000),
    workerLoops: int('WORKER_LOOPS', 2, 1, 16),
    fanoutChunkSize: int('FANOUT_CHUNK_SIZE', 5000, 100, 50_000),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

let cached: Readonly<Config> | undefined;

/** The process's configuration, parsed on first use. */
export function config(): Readonly<Config> {
  cached ??= loadConfig();
  return cached;
}
