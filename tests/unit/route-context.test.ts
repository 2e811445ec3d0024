import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/log';
import type { RouteContext } from '../../web/http/route-context';

const context: RouteContext = {
  pool: {} as pg.Pool,
  fanOutPool: {} as pg.Pool,
  boss: {} as PgBoss,
  log: createLogger({}, 'silent'),
  operators: { token: undefined, localOnly: true },
  maxCells: 100,
  maxPixels: 100,
  fanoutChunkSize: 10,
  batchDeadlineSeconds: 60,
  allowedOrigins: [],
  clientLimits: { perMinute: 1, running: 1 },
  maxActiveCells: 100,
  maxPublicPriority: 0,
  trustProxy: false,
  deadWorkerSeconds: 30,
  workerToken: undefined,
  leaseRequestsPerSecond: 20,
  cellRetryLimit: 3,
};

/** A fresh copy of the module, as each of Next's bundles and server.ts hold their own. */
async function freshCopy() {
  vi.resetModules();
  return import('../../web/http/route-context');
}

let withdraw: (() => void) | undefined;
afterEach(() => {
  withdraw?.();
  withdraw = undefined;
});

describe('the route context handoff', () => {
  it('reaches a route handler that holds another copy of the module', async () => {
    const server = await freshCopy();
    withdraw = server.provideRouteContext(context);
    const routes = await freshCopy();
    expect(routes).not.toBe(server);
    expect(routes.routeContext()).toBe(context);
  });

  it('says who should have provided it when no web server did', async () => {
    const { routeContext } = await freshCopy();
    expect(() => routeContext()).toThrow(/server\.ts/);
  });

  it('is provided once per process, and taken back at shutdown', async () => {
    const { provideRouteContext, routeContext } = await freshCopy();
    withdraw = provideRouteContext(context);
    expect(() => provideRouteContext({ ...context })).toThrow(/already provided/);
    withdraw();
    expect(() => routeContext()).toThrow(/No route context/);
  });
});
