import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config';
import { ConfigError } from '../../lib/errors';

describe('loadConfig', () => {
  it('has working defaults with an empty environment', () => {
    const cfg = loadConfig({});
    expect(cfg.port).toBe(3000);
    expect(cfg.databaseUrl).toBeUndefined();
    expect(cfg.maxCells).toBe(1_000_000);
    expect(cfg.workers).toBeGreaterThanOrEqual(1);
    expect(cfg.workerFetchSize).toBe(1000);
    expect(cfg.embeddedPg.dataDir).toMatch(/\.data\/postgres$/);
    expect(Object.isFrozen(cfg)).toBe(true);
    // The dashboard is open unless a token is configured.
    expect(cfg.dashboardToken).toBeUndefined();
    expect(loadConfig({ DASHBOARD_TOKEN: ' t0ken ' }).dashboardToken).toBe('t0ken');
    expect(loadConfig({ DASHBOARD_TOKEN: '  ' }).dashboardToken).toBeUndefined();
  });

  it('reads values from the environment', () => {
    const cfg = loadConfig({ PORT: '4000', WORKERS: '3', DATABASE_URL: 'postgres://u:p@db:5432/x', MAX_CELLS: '500', LOG_LEVEL: 'warn' });
    expect(cfg).toMatchObject({ port: 4000, workers: 3, databaseUrl: 'postgres://u:p@db:5432/x', maxCells: 500, logLevel: 'warn' });
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', WORKERS: '-1', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT/);
    expect(problems).toMatch(/WORKERS/);
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/LOG_LEVEL/);
  });
});
