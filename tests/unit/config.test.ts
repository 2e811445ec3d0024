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

  it('keeps OpenTelemetry off unless OTEL_ENABLED says otherwise', () => {
    expect(loadConfig({}).otel).toEqual({
      enabled: false,
      endpoint: 'http://localhost:4318',
      serviceName: undefined,
      spanExportDelayMs: 5000,
      metricExportIntervalMs: 60_000,
    });
    const on = loadConfig({
      OTEL_ENABLED: '1',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_SERVICE_NAME: 'fl',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    });
    expect(on.otel).toEqual({
      enabled: true,
      endpoint: 'http://collector:4318',
      serviceName: 'fl',
      spanExportDelayMs: 200,
      metricExportIntervalMs: 1000,
    });
    expect(loadConfig({ OTEL_ENABLED: 'true', OTEL_SDK_DISABLED: 'true' }).otel.enabled).toBe(false);
    expect(() => loadConfig({ OTEL_ENABLED: 'maybe' })).toThrow(/OTEL_ENABLED must be 1 or 0/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http/);
  });

  it('reads the dashboard token, unset by default', () => {
    expect(loadConfig({}).dashboardToken).toBeUndefined();
    expect(loadConfig({ DASHBOARD_TOKEN: ' s3cret ' }).dashboardToken).toBe('s3cret');
  });
});

describe('HOST and ALLOWED_HOSTS (closed by default)', () => {
  it('listens on loopback unless HOST says otherwise', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '  ' }).host).toBe('127.0.0.1');
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '::' }).host).toBe('::');
  });

  it('refuses a HOST that is not an address or a host name', () => {
    for (const bad of ['http://0.0.0.0', '0.0.0.0:3000', 'two words', 'a/b']) {
      expect(() => loadConfig({ HOST: bad })).toThrow(/HOST must be an address to listen on/);
    }
  });

  it('answers to the loopback names by default, and to HOST when it is one address rather than every interface', () => {
    expect(loadConfig({}).allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(loadConfig({ HOST: '0.0.0.0' }).allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(loadConfig({ HOST: '::' }).allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(loadConfig({ HOST: '192.168.1.5' }).allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]', '192.168.1.5']);
    expect(loadConfig({ HOST: 'fe80::1' }).allowedHosts).toContain('[fe80::1]');
    expect(Object.isFrozen(loadConfig({}).allowedHosts)).toBe(true);
  });

  it('adds ALLOWED_HOSTS, normalised (case, trailing dot, IPv6 brackets); * answers to any name', () => {
    const cfg = loadConfig({ ALLOWED_HOSTS: ' App.Example.com , 10.0.0.7,[2001:db8::1], 2001:db8::2, lan-box., localhost ' });
    expect(cfg.allowedHosts).toEqual([
      'localhost',
      '127.0.0.1',
      '[::1]',
      'app.example.com',
      '10.0.0.7',
      '[2001:db8::1]',
      '[2001:db8::2]',
      'lan-box',
    ]);
    expect(loadConfig({ ALLOWED_HOSTS: '*' }).allowedHosts).toContain('*');
  });

  it('reports every ALLOWED_HOSTS entry that is not a bare host name, with the others', () => {
    let error: unknown;
    try {
      loadConfig({ ALLOWED_HOSTS: 'https://app.example.com,app.example.com:3000,*.example.com,ok.example', HOST: 'x y' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.filter((p) => p.startsWith('ALLOWED_HOSTS must be comma-separated host names without scheme or port'))).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/"https:\/\/app\.example\.com"/);
    expect(problems.join('\n')).toMatch(/HOST must be/);
  });
});
