import { config, configuredLogLevel } from '../lib/config';
import { createPool } from '../lib/db/pool';
import { runProcess } from '../lib/lifecycle';
import { cellQueueSettings, prepareDatabase } from '../lib/queue/prepare-database';
import { buildIfNeeded } from './build-if-needed';
import { Child } from './child-process';

/**
 * `npm start` (and `npm run dev` with --dev): embedded PostgreSQL unless DATABASE_URL is set, one
 * web server and WORKERS worker processes, each restarted if it crashes; a drained worker exits 0
 * and is left stopped (child-process.ts). SIGINT or SIGTERM stops the web server and workers first
 * and PostgreSQL last.
 */
runProcess({ proc: 'start', name: 'finish line', logLevel: configuredLogLevel }, async (life, log) => {
  const dev = process.argv.includes('--dev');
  const cfg = config();
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: dev ? 'development' : 'production' };

  let databaseUrl = cfg.databaseUrl;
  if (!databaseUrl) {
    const postgres = new Child({ name: 'postgres', entry: 'scripts/postgres-host.ts', env, restart: false, log });
    postgres.start();
    life.onStop('postgres', () => postgres.stop(30_000));
    databaseUrl = await postgres.waitFor((m) => (isMessage(m, 'ready') ? String(m.url) : undefined));
  }
  env.DATABASE_URL = databaseUrl;

  const pool = createPool(databaseUrl, 2, log, 'finish-line-start', undefined, cfg.dbSessionTimeouts);
  await prepareDatabase(pool, databaseUrl, log, cellQueueSettings(cfg));
  await pool.end();
  if (!dev) await buildIfNeeded(log);

  // Several web servers share nothing but PostgreSQL: the Socket.IO adapter carries every broadcast.
  const webs = Array.from({ length: cfg.webServers }, (_, i) => {
    const port = cfg.port === 0 ? 0 : cfg.port + i;
    return new Child({ name: `web :${port}`, entry: 'server.ts', env: { ...env, PORT: String(port) }, restart: true, log });
  });
  const children = [...webs];
  for (let i = 1; i <= cfg.workers; i++) {
    children.push(new Child({ name: `worker w-${i}`, entry: 'workers/main.ts', env: { ...env, WORKER_ID: `w-${i}` }, restart: true, log }));
  }
  life.onStop('web server and workers', () => Promise.all(children.map((c) => c.stop())).then(() => undefined));
  for (const child of children) child.start();
  const ports = await Promise.all(webs.map((web) => web.waitFor((m) => (isMessage(m, 'listening') ? Number(m.port) : undefined))));
  log.info('finish line is up', {
    url: `http://localhost:${ports[0]}`,
    ...(ports.length > 1 ? { urls: ports.map((p) => `http://localhost:${p}`) } : {}),
    workers: cfg.workers,
    database: cfg.databaseUrl ? 'DATABASE_URL' : 'embedded',
  });
});

function isMessage(message: unknown, type: string): message is Record<string, unknown> {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}
