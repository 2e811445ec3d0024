import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { config } from '../config';
import { createPool } from '../db/pool';
import { createLogger, type Logger } from '../log';
import { startBoss } from '../queue/boss';
import { isOperatorAuthorization, operatorPolicy } from './operator-auth';

/**
 * What the route handlers need, created on first use. Next bundles `app/` apart from server.ts, so
 * the handlers hold their own pools and a producer-only pg-boss; all talk to Postgres alone and
 * share nothing in memory with the Socket.IO server.
 */
export interface RouteContext {
  /** Answers requests: short statements only, so /healthz and every route always find a connection. */
  pool: pg.Pool;
  /** Fan-outs of the batches this process starts, apart from `pool` (see `FanOutDeps.fanOutPool`). */
  fanOutPool: pg.Pool;
  log: Logger;
  maxCells: number;
  maxPixels: number;
  fanoutChunkSize: number;
  batchDeadlineSeconds: number;
  allowedOrigins: readonly string[];
  clientLimits: { perMinute: number; running: number };
  /** Cells queued and running across all batches past which creations answer 503 busy. */
  maxActiveCells: number;
  /** Priorities above this are for operators only. */
  maxPublicPriority: number;
  trustProxy: boolean;
  dashboardToken: string | undefined;
  /** Whether a request's `Authorization` header makes it an operator (`isOperator`), for the priority ceiling. */
  isOperatorRequest(authorization: string | null): boolean;
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
  const fanOutPool = createPool(url, cfg.fanoutPoolSize, log, 'finish-line-api-fanout');
  const operators = operatorPolicy(cfg);
  let boss: Promise<PgBoss> | undefined;
  context = {
    pool,
    fanOutPool,
    log,
    maxCells: cfg.maxCells,
    maxPixels: cfg.maxPixels,
    fanoutChunkSize: cfg.fanoutChunkSize,
    batchDeadlineSeconds: cfg.batchDeadlineSeconds,
    allowedOrigins: cfg.allowedOrigins,
    clientLimits: { perMinute: cfg.batchesPerMinute, running: cfg.runningBatchesPerClient },
    maxActiveCells: cfg.maxActiveCells,
    maxPublicPriority: cfg.maxPublicPriority,
    trustProxy: cfg.trustProxy,
    dashboardToken: cfg.dashboardToken,
    isOperatorRequest: (authorization) => isOperatorAuthorization(operators, authorization),
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
