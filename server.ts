import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import next from 'next';
import { config, configuredLogLevel } from './lib/config';
import { createPool } from './lib/db/pool';
import { ConfigError } from './lib/errors';
import { stampClientAddress } from './web/http/client-address';
import { answerForeignHost } from './web/http/host-guard';
import { exposureProblem, operatorPolicy } from './lib/operator-auth';
import { isHostAllowed } from './lib/origin';
import { answerClientError, answerMalformedPath, answerUnknownApiMethod } from './web/http/raw-errors';
import { applySecurityHeaders } from './lib/security-headers';
import { runProcess } from './lib/lifecycle';
import { attachDashboard } from './web/realtime/dashboard';
import { attachRealtime } from './web/realtime/server';
import { watchWorkerPresence } from './web/realtime/worker-presence';
import { startBatchActivity } from './web/realtime/batch-activity';
import { startDeadlineSweeper } from './lib/batches/expire-batches';
import { startFanOutResumer } from './lib/batches/fan-out';
import { workScheduledStarts } from './lib/batches/scheduled-start';
import { SCHEDULER_SETTINGS, workScheduleTicks } from './lib/batches/schedules';
import { startRetentionSweeper } from './lib/batches/retention';
import { startBoss } from './lib/queue/boss';
import { startLeaseSweeper } from './lib/leases/lease-sweeper';
import { cellQueueSettings, prepareDatabase } from './lib/queue/prepare-database';
import { startTelemetry } from './lib/telemetry/sdk';
import { provideRouteContext } from './web/http/route-context';

/** The web server: Next.js pages and API routes, and Socket.IO, on one port. */
runProcess({ proc: 'web', name: 'web server', logLevel: configuredLogLevel }, async (life, log) => {
  const cfg = config();
  if (!cfg.databaseUrl) throw new Error('DATABASE_URL is not set: start the app with `npm start`, or set DATABASE_URL.');
  // Closed by default: listening beyond loopback needs an operator token (docs/security.md).
  const exposed = exposureProblem(cfg);
  if (exposed) throw new ConfigError([exposed]);
  const operators = operatorPolicy(cfg);
  if (operators.token === undefined && !operators.localOnly) {
    log.warn(
      'no DASHBOARD_TOKEN while clients may come from beyond this machine (TRUST_PROXY or ALLOWED_HOSTS): the dashboard and its controls are closed until one is set',
    );
  }
  // Before Next loads, so its request spans and the route handlers' batch spans find the SDK; first
  // in, so stopped last, flushing the spans of everything stopped before it.
  life.onStop('telemetry', await startTelemetry(cfg.otel, { role: 'web', instanceId: `web-${hostname()}-${process.pid}` }, log));

  const pool = createPool(cfg.databaseUrl, cfg.dbPoolSize, log, 'finish-line-web', undefined, cfg.dbSessionTimeouts);
  life.onStop('database pool', () => pool.end());
  // Migrations may wait long for their locks (another process migrating, DDL behind live
  // transactions): their own connection, without the pools' lock timeout.
  const setupPool = createPool(cfg.databaseUrl, 1, log, 'finish-line-web-setup', undefined, { ...cfg.dbSessionTimeouts, lockMs: 0 });
  await prepareDatabase(setupPool, cfg.databaseUrl, log, cellQueueSettings(cfg)).finally(() => setupPool.end());
  // The resumer's fan-outs hold a connection each for as long as they run: their own small pool.
  const fanOutPool = createPool(cfg.databaseUrl, cfg.fanoutPoolSize, log, 'finish-line-web-fanout', undefined, cfg.dbSessionTimeouts);
  life.onStop('fan-out pool', () => fanOutPool.end());

  const dir = fileURLToPath(new URL('.', import.meta.url));
  const app = next({ dev: cfg.dev, dir, hostname: cfg.host, port: cfg.port });
  await app.prepare();
  life.onStop('next', () => app.close());
  const handle = app.getRequestHandler();

  const httpServer = createServer((req, res) => {
    applySecurityHeaders(req, res, cfg.dev);
    if (answerForeignHost(req, res, cfg.allowedHosts)) return;
    stampClientAddress(req, cfg.trustProxyHops);
    if (answerMalformedPath(req, res) || answerUnknownApiMethod(req, res)) return;
    handle(req, res).catch((err: unknown) => {
      log.error('request handler crashed', { url: req.url, err });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal_error', message: 'Something went wrong on the server.' } }));
    });
  });
  // Malformed requests Node refuses before any handler runs still answer in the contract's shape.
  httpServer.on('clientError', answerClientError);
  const { io, close } = attachRealtime(httpServer, { pool, connectionString: cfg.databaseUrl }, log, {
    allowedOrigins: cfg.allowedOrigins,
    allowedHosts: cfg.allowedHosts,
  });
  life.onStop('socket.io', close);
  life.onStop('worker presence', watchWorkerPresence(io, pool, log, cfg.workerHeartbeatSeconds));
  life.onStop('batch activity', startBatchActivity(io, pool, log, cfg.workerHeartbeatSeconds * 3));

  // Deadlines are kept here, not by workers: a batch must expire even when no worker is alive.
  // It also runs pg-boss's scheduler: recurring batches tick here, once per tick across all web servers.
  const boss = await startBoss(cfg.databaseUrl, 'producer', log, 2, undefined, cfg.otel.enabled, SCHEDULER_SETTINGS);
  life.onStop('pg-boss', () => boss.stop({ graceful: false }));
  life.onStop('deadline sweeper', startDeadlineSweeper({ pool, boss }, log));
  // Three missed heartbeats make a worker dead, as for the batch page's "no worker" notice.
  const dashboard = { pool, boss, policy: operators, deadAfterSeconds: cfg.workerHeartbeatSeconds * 3 };
  life.onStop('dashboard', attachDashboard(io, dashboard, log));
  // A fan-out whose web server died is finished by whichever web server gets its lock first.
  const fanOutDeps = { pool, fanOutPool, boss, chunkSize: cfg.fanoutChunkSize, defaultDeadlineSeconds: cfg.batchDeadlineSeconds };
  life.onStop('fan-out resumer', startFanOutResumer(fanOutDeps, log));
  // Batches started later: any web server starts any of them, when its start job comes due.
  life.onStop('scheduled starts', await workScheduledStarts(fanOutDeps, log));
  // Recurring batches: each tick's batch goes through the same start path, under the same global cap.
  life.onStop('schedule ticks', await workScheduleTicks({ ...fanOutDeps, maxActiveCells: cfg.maxActiveCells }, log));
  life.onStop('lease sweeper', startLeaseSweeper({ pool, boss }, log));
  life.onStop('retention', startRetentionSweeper(pool, { days: cfg.retentionDays, maxCells: cfg.retentionMaxCells }, log));
  // The route handlers use what this process built (web/http/route-context.ts): before Next serves.
  const withdrawRouteContext = provideRouteContext({
    pool,
    fanOutPool,
    boss,
    log: log.child({ part: 'api' }),
    operators,
    maxCells: cfg.maxCells,
    maxPixels: cfg.maxPixels,
    fanoutChunkSize: cfg.fanoutChunkSize,
    workerToken: cfg.workerToken,
    leaseRequestsPerSecond: cfg.leaseRequestsPerSecond,
    cellRetryLimit: cfg.cellRetryLimit,
    batchDeadlineSeconds: cfg.batchDeadlineSeconds,
    allowedOrigins: cfg.allowedOrigins,
    clientLimits: { perMinute: cfg.batchesPerMinute, running: cfg.runningBatchesPerClient },
    maxActiveCells: cfg.maxActiveCells,
    maxPublicPriority: cfg.maxPublicPriority,
    trustProxy: cfg.trustProxy,
    deadWorkerSeconds: cfg.workerHeartbeatSeconds * 3,
  });
  life.onStop('route context', withdrawRouteContext);
  // Socket.IO answers upgrades on its own path; in development Next's hot reload takes the rest.
  const nextUpgrade = cfg.dev ? app.getUpgradeHandler() : undefined;
  httpServer.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith('/socket.io/')) return;
    if (nextUpgrade && isHostAllowed(req.headers.host, cfg.allowedHosts)) void nextUpgrade(req, socket, head);
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(cfg.port, cfg.host, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  log.info('web server listening', { url: `http://localhost:${port}`, host: cfg.host, dev: cfg.dev });
  process.send?.({ type: 'listening', port });
});
