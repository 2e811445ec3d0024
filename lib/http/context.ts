import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { config } from '../config';
import { createPool } from '../db/pool';
import { createLogger, type Logger } from '../log';
import { startBoss } from '../queue/boss';

/**
 * What the route handlers need, created on first use. Next bundles `app/` apart from server.ts, so
 * the handlers hold their own pool and a producer-only pg-boss; both talk to Postgres alone and
 * share nothing in memory with the Socket.IO server.
 */
export interface RouteContext {
  pool: pg.Pool;
  log: Logger;
  maxCells: number;
  maxPixels: number;
  fanoutChunkSize: number;
  batchDeadlineSeconds: number;
  allowedOrigins: readonly string[];
  clientLimits: { perMinute: number; running: number };
  trustProxy: boolean;
  dashboardToken: string | undefined;
  boss(): Promise<PgBoss>;
}

let context: RouteContext | undefined;

export function routeContext(): RouteContext {
  if (context) return context;
  const cfg = config();
  if (!cfg.databaseUrl) throw new Error('DATABASE_URL is not set; start the app with `npm start`.');
  const url = cfg.databaseUrl;
  const log = createLogger({ proc: 'web', part: 'api' });
  const pool = createPool(url, cfg.dbPoolSize, log, 'finish-line-api');
  let boss: Promise<PgBoss> | undefined;
  context = {
    pool,
    log,
    maxCells: cfg.maxCells,
    maxPixels: cfg.maxPixels,
    fanoutChunkSize: cfg.fanoutChunkSize,
    batchDeadlineSeconds: cfg.batchDeadlineSeconds,
    allowedOrigins: cfg.allowedOrigins,
    clientLimits: { perMinute: cfg.batchesPerMinute, running: cfg.runningBatchesPerClient },
    trustProxy: cfg.trustProxy,
    dashboardToken: cfg.dashboardToken,
    boss: () => {
      boss ??= startBoss(url, 'producer', log, 2).catch((err: unknown) => {
        boss = undefined;
        throw err;
      });
      return boss;
    },
  };
  return context;
}
