import { existsSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { type FaultPlan, parseFaultPlan } from './faults';
import { TAG_PATTERN } from './tags';
import { isWildcardAddress, LOOPBACK_HOST_NAMES, normalizeHostName } from './host-names';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Every setting of every process, parsed and validated once. Nothing else reads `process.env`. */
export interface Config {
  /** Absent: the start script runs an embedded PostgreSQL and hands its URL to the processes it starts. */
  databaseUrl: string | undefined;
  port: number;
  /** The web server's listen address: loopback unless set (a container sets 0.0.0.0). */
  host: string;
  dev: boolean;
  logLevel: LogLevel;
  dbPoolSize: number;
  /** Embedded PostgreSQL: where its data lives and which port it listens on (loopback only). */
  embeddedPg: { dataDir: string; port: number };
  /** Worker processes the start script keeps running. */
  workers: number;
  /** Web server processes the start script runs, on PORT, PORT+1, … */
  webServers: number;
  workerId: string;
  maxCells: number;
  /** A picture's pixels at most (rows·cols·tileSize²). */
  maxPixels: number;
  /** Picture tiles a worker fetches at once; they render one after another and land as they are done. */
  tileFetchSize: number;
  /** Threads per worker process that render tiles, off the event loop. */
  renderThreads: number;
  /** Scheduling niceness of the render threads (Linux: theirs alone), so rendering yields a core to the rest. */
  renderNice: number;
  /** Cell jobs a worker fetches, records and completes in one transaction. */
  workerFetchSize: number;
  /** Independent fetch loops per worker process. */
  workerLoops: number;
  /** The batch tags whose cells this worker takes (WORKER_TAGS). */
  workerTags: string[];
  /** Cell jobs inserted per statement while a batch fans out. */
  fanoutChunkSize: number;
  /** Retries after a cell's first attempt fails, with exponential backoff. */
  cellRetryLimit: number;
  /** A cell's attempt past this is abandoned (its signal fires) and retried. */
  cellTimeoutMs: number;
  /** A claimed job whose worker stopped heartbeating for this long is retried elsewhere. */
  cellHeartbeatSeconds: number;
  /** A batch still running this long after it started ends as expired. */
  batchDeadlineSeconds: number;
  /** How often a worker records that it is alive. */
  workerHeartbeatSeconds: number;
  /** A file a worker touches after each heartbeat that reached the database (a container's health check reads it). */
  workerHealthFile: string | undefined;
  /** Ended batches (with their cells and jobs) and stopped workers are deleted after this many days. */
  retentionDays: number;
  /**
   * Bearer token for the operator surfaces (`/metrics`, the dashboard); unset leaves them open,
   * the local default.
   */
  dashboardToken: string | undefined;
  /** Bearer token of the lease API (workers in any language over HTTP); unset, that API answers 404. */
  workerToken: string | undefined;
  /** Lease API requests one worker token may make per second, over all web servers (429 past it). */
  leaseRequestsPerSecond: number;
  /** OpenTelemetry traces and metrics over OTLP/HTTP (JSON); off unless switched on. */
  otel: OtelSettings;
  /** Origins besides the server's own that may POST and open sockets; requests without Origin always may. */
  allowedOrigins: readonly string[];
  /**
   * Host names this server answers to (`Host` header, and the host of a same-origin `Origin`): the
   * loopback names, HOST when it is one address, and ALLOWED_HOSTS; `*` answers any (no DNS-rebinding check).
   */
  allowedHosts: readonly string[];
  /** Batches one client (remote address) may create per minute. */
  batchesPerMinute: number;
  /** Batches one client may have running at once. */
  runningBatchesPerClient: number;
  /** Behind a reverse proxy (any trusted hop): `X-Forwarded-Proto` is believed, and the client comes from X-Forwarded-For. */
  trustProxy: boolean;
  /**
   * Reverse proxies in front of this server (0: clients connect directly). The client is the
   * X-Forwarded-For entry that many hops from the right, the right-most one no trusted proxy wrote.
   */
  trustProxyHops: number;
  /** Queued and running cells across all running batches past which new batches are refused (503 busy). */
  maxActiveCells: number;
  /** The highest priority anyone may ask for; above it, only operators (DASHBOARD_TOKEN). */
  maxPublicPriority: number;
  /** Connections per process for fan-outs, apart from the pool that answers requests. */
  fanoutPoolSize: number;
  /** Server-side limits every pool sets on its sessions, so a frozen process cannot hold locks for long. */
  dbSessionTimeouts: DbSessionTimeouts;
  /** Cells kept (recorded cells of every batch) past which retention deletes the oldest ended batches early. */
  retentionMaxCells: number;
  /** Test-only fault injection; null in every normal start. */
  faults: FaultPlan | null;
}

export interface DbSessionTimeouts {
  /** `idle_in_transaction_session_timeout`: a session idle inside a transaction this long is ended. */
  idleInTransactionMs: number;
  /** `lock_timeout`: a statement waiting this long for a lock fails (0: waits for ever). */
  lockMs: number;
}

/** DB_IDLE_IN_TRANSACTION_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS when unset. */
export const DB_SESSION_TIMEOUT_DEFAULTS: Readonly<DbSessionTimeouts> = { idleInTransactionMs: 15_000, lockMs: 5000 };

export interface OtelSettings {
  enabled: boolean;
  /** Collector base URL; traces go to `<endpoint>/v1/traces`, metrics to `<endpoint>/v1/metrics`. */
  endpoint: string;
  /** `service.name`; unset, each process names itself `finish-line-web` or `finish-line-worker`. */
  serviceName: string | undefined;
  /** Longest a finished span waits before it is exported. */
  spanExportDelayMs: number;
  /** How often metrics are exported. */
  metricExportIntervalMs: number;
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

  // A worker's tags: comma-separated, each by the rule of a batch's `tag` (lib/tags.ts).
  const tags = (name: string): string[] => {
    const raw = env[name]?.trim();
    if (!raw) return ['default'];
    const list = [...new Set(raw.split(',').map((t) => t.trim()))];
    const bad = list.filter((t) => !TAG_PATTERN.test(t));
    if (bad.length > 0) {
      problems.push(`${name} must be tags separated by commas, each 1 to 32 lowercase letters, digits or dashes (got "${raw}")`);
      return ['default'];
    }
    return list;
  };

  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }

  const logLevel = (env.LOG_LEVEL?.trim() || 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of debug, info, warn, error, silent (got "${env.LOG_LEVEL}")`);
  }

  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be 1 or 0 (or true/false; got "${env[name]}")`);
    return fallback;
  };

  const otelEndpoint = (env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || 'http://localhost:4318').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/.test(otelEndpoint)) {
    problems.push(
      `OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL such as http://localhost:4318 (got "${env.OTEL_EXPORTER_OTLP_ENDPOINT}")`,
    );
  }

  const allowedOrigins: string[] = [];
  for (const raw of (env.ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)) {
    const origin = parseOrigin(raw);
    if (origin) allowedOrigins.push(origin);
    else problems.push(`ALLOWED_ORIGINS must be comma-separated origins like https://example.com (got "${raw}")`);
  }

  const host = env.HOST?.trim() || '127.0.0.1';
  const listenName = normalizeHostName(host);
  if (listenName === null) {
    problems.push(
      `HOST must be an address to listen on, like 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces) (got "${env.HOST}")`,
    );
  }
  // Loopback names always; HOST too when it is one address (not every interface) a client may use.
  const allowedHosts = new Set(LOOPBACK_HOST_NAMES);
  if (listenName && !isWildcardAddress(host)) allowedHosts.add(listenName);
  for (const raw of (env.ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim())) {
    const name = raw === '*' ? '*' : normalizeHostName(raw);
    if (name) allowedHosts.add(name);
    else if (raw) {
      problems.push(`ALLOWED_HOSTS must be comma-separated host names without scheme or port, like app.example.com (got "${raw}")`);
    }
  }

  const trustProxyHops = parseTrustProxy(env.TRUST_PROXY);
  if (trustProxyHops === null)
    problems.push(`TRUST_PROXY must be true, false or a number of proxy hops from 0 to 10 (got "${env.TRUST_PROXY}")`);

  const config: Config = {
    databaseUrl,
    port: int('PORT', 3000, 0, 65535),
    host,
    dev: env.NODE_ENV === 'development',
    logLevel,
    dbPoolSize: int('DB_POOL_SIZE', 10, 2, 200),
    embeddedPg: {
      // A path from the environment, not a bundle input: keep Turbopack from tracing the project.
      dataDir: path.resolve(/*turbopackIgnore: true*/ env.PG_DATA_DIR?.trim() || '.data/postgres'),
      port: int('PG_PORT', 54329, 1024, 65535),
    },
    workers: int('WORKERS', availableParallelism(), 0, 64),
    webServers: int('WEB_SERVERS', 1, 1, 16),
    workerId: env.WORKER_ID?.trim() || `${hostname()}-${process.pid}`,
    maxCells: int('MAX_CELLS', 1_000_000, 1, 1_000_000),
    maxPixels: int('MAX_PIXELS', 16_777_216, 16, 64 * 1024 * 1024),
    tileFetchSize: int('TILE_FETCH_SIZE', 64, 1, 1000),
    renderThreads: int('RENDER_THREADS', 1, 1, 64),
    renderNice: int('RENDER_NICE', 10, 0, 19),
    workerFetchSize: int('WORKER_FETCH_SIZE', 1000, 1, 5000),
    workerLoops: int('WORKER_LOOPS', 2, 1, 16),
    workerTags: tags('WORKER_TAGS'),
    fanoutChunkSize: int('FANOUT_CHUNK_SIZE', 5000, 100, 50_000),
    cellRetryLimit: int('CELL_RETRY_LIMIT', 3, 0, 20),
    cellTimeoutMs: int('CELL_TIMEOUT_MS', 10_000, 100, 600_000),
    cellHeartbeatSeconds: int('CELL_HEARTBEAT_SECONDS', 10, 10, 3600),
    batchDeadlineSeconds: int('BATCH_DEADLINE_SECONDS', 600, 1, 7 * 24 * 3600),
    workerHeartbeatSeconds: int('WORKER_HEARTBEAT_SECONDS', 5, 1, 300),
    workerHealthFile: env.WORKER_HEALTH_FILE?.trim() || undefined,
    retentionDays: int('RETENTION_DAYS', 7, 1, 3650),
    dashboardToken: env.DASHBOARD_TOKEN?.trim() || undefined,
    workerToken: env.WORKER_TOKEN?.trim() || undefined,
    leaseRequestsPerSecond: int('LEASE_REQUESTS_PER_SECOND', 20, 1, 100_000),
    otel: {
      // OTEL_SDK_DISABLED is the standard off switch; it wins over ours.
      enabled: flag('OTEL_ENABLED', false) && !flag('OTEL_SDK_DISABLED', false),
      endpoint: otelEndpoint,
      serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined,
      spanExportDelayMs: int('OTEL_BSP_SCHEDULE_DELAY', 5000, 100, 600_000),
      metricExportIntervalMs: int('OTEL_METRIC_EXPORT_INTERVAL', 60_000, 1000, 3_600_000),
    },
    allowedOrigins: Object.freeze(allowedOrigins),
    allowedHosts: Object.freeze([...allowedHosts]),
    batchesPerMinute: int('BATCHES_PER_MINUTE', 30, 1, 1_000_000),
    runningBatchesPerClient: int('RUNNING_BATCHES_PER_CLIENT', 5, 1, 1_000_000),
    trustProxy: (trustProxyHops ?? 0) > 0,
    trustProxyHops: trustProxyHops ?? 0,
    maxActiveCells: int('MAX_ACTIVE_CELLS', 5_000_000, 1, 1_000_000_000),
    maxPublicPriority: int('MAX_PUBLIC_PRIORITY', 10, 0, 100),
    fanoutPoolSize: int('FANOUT_POOL_SIZE', 2, 1, 50),
    dbSessionTimeouts: {
      idleInTransactionMs: int('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', DB_SESSION_TIMEOUT_DEFAULTS.idleInTransactionMs, 1000, 3_600_000),
      lockMs: int('DB_LOCK_TIMEOUT_MS', DB_SESSION_TIMEOUT_DEFAULTS.lockMs, 0, 600_000),
    },
    retentionMaxCells: int('RETENTION_MAX_CELLS', 20_000_000, 1000, 10_000_000_000),
    faults: null,
  };

  // A batch the API accepts must fit under the global cap, or it could never start.
  if (config.maxActiveCells < config.maxCells)
    problems.push(`MAX_ACTIVE_CELLS (${config.maxActiveCells}) must be at least MAX_CELLS (${config.maxCells})`);

  const faults = env.FINISH_LINE_FAULTS?.trim();
  if (faults) {
    if (env.NODE_ENV !== 'test') {
      problems.push('FINISH_LINE_FAULTS is for the test suite only (NODE_ENV=test); unset it');
    } else {
      try {
        config.faults = parseFaultPlan(faults);
      } catch {
        problems.push('FINISH_LINE_FAULTS must be JSON like {"throwOnce": ["0,1"]}');
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/**
 * TRUST_PROXY as a number of proxy hops: `false`/`0` none, `true`/`1` one (the values of old, kept),
 * or how many proxies sit in front. Null when it is none of these.
 */
function parseTrustProxy(raw: string | undefined): number | null {
  const value = (raw?.trim() || 'false').toLowerCase();
  if (value === 'false') return 0;
  if (value === 'true') return 1;
  if (!/^\d{1,2}$/.test(value)) return null;
  const hops = Number(value);
  return hops <= 10 ? hops : null;
}

/** `https://Example.com:443/` → `https://example.com`; null when it is not an http(s) origin. */
function parseOrigin(raw: string): string | null {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return null;
    return url.origin;
  } catch {
    return null;
  }
}

let cached: Readonly<Config> | undefined;

/** LOG_LEVEL, for a process's `runProcess` (lib/lifecycle.ts). */
export const configuredLogLevel = (): LogLevel => config().logLevel;

/** The process's configuration, parsed on first use. */
export function config(): Readonly<Config> {
  if (!cached) {
    loadDotEnv();
    cached = loadConfig();
  }
  return cached;
}

/**
 * Reads `.env` from the working directory when there is one (see `.env.example`): variables already
 * in the environment win over the file. The tests switch it off (FINISH_LINE_DOTENV=0), so a
 * developer's `.env` never changes what they test.
 */
function loadDotEnv(): void {
  if (process.env.FINISH_LINE_DOTENV === '0' || !existsSync('.env')) return;
  process.loadEnvFile('.env');
}
