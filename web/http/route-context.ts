import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { OperatorPolicy } from '../../lib/operator-auth';
import type { Logger } from '../../lib/log';

/**
 * What the route handlers under app/ use: the pools, pg-boss and settings that server.ts, the web
 * process's one composition root, built for the whole process. The handlers build nothing.
 */
export interface RouteContext {
  /** Answers requests: short statements only, so /healthz and every route always find a connection. */
  pool: pg.Pool;
  /** Fan-outs of the batches this process starts, apart from `pool` (see `FanOutDeps.fanOutPool`). */
  fanOutPool: pg.Pool;
  /** A producer: routes insert jobs inside their own transactions. */
  boss: PgBoss;
  log: Logger;
  /** Who may use the operator controls (lib/operator-auth.ts). */
  operators: OperatorPolicy;
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
  /** Past this many seconds without a heartbeat a worker counts as dead (three missed beats). */
  deadWorkerSeconds: number;
  /** The lease API's bearer token; unset, that API is not served (404). */
  workerToken: string | undefined;
  leaseRequestsPerSecond: number;
  /** Retries a cell gets after its own work first fails; a lease client's `error` results spend them. */
  cellRetryLimit: number;
}

/**
 * The handoff from server.ts to the route handlers. Next bundles app/ apart from server.ts, so each
 * bundle has its own copy of every module, and a module-level variable set by one is not seen by the
 * other; both run in the same process, though, and share `globalThis` and the global symbol
 * registry. Next hands its own router's methods to route modules the same way
 * (`Symbol.for('@next/router-server-methods')`, next/dist/server/lib/router-utils/router-server-context.js).
 * See docs/architecture.md, "The house".
 */
const KEY = Symbol.for('finish-line.route-context');

type Registry = typeof globalThis & { [KEY]?: RouteContext };

/** Called by server.ts once, before it listens; returns the step that takes it back at shutdown. */
export function provideRouteContext(context: RouteContext): () => void {
  const registry = globalThis as Registry;
  if (registry[KEY]) throw new Error('The route context is already provided: one web server per process.');
  registry[KEY] = context;
  return () => {
    if (registry[KEY] === context) delete registry[KEY];
  };
}

/** What server.ts provided. Throws when the app is served by anything but server.ts (`next start`, say). */
export function routeContext(): RouteContext {
  const context = (globalThis as Registry)[KEY];
  if (!context) {
    throw new Error(
      'No route context: the API is served by the web server (server.ts: `npm start` or `npm run web`), which builds the pools and pg-boss; `next start` alone cannot serve it.',
    );
  }
  return context;
}
