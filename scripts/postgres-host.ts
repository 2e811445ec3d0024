import { config, configuredLogLevel } from '../lib/config';
import { startEmbeddedPostgres } from '../lib/db/embedded';
import { runProcess } from '../lib/lifecycle';

/**
 * Runs the embedded PostgreSQL for `npm start`, in a process group of its own, so a Ctrl-C in the
 * terminal reaches only the start script, which then stops the web server and workers first and
 * this process last.
 */
runProcess({ proc: 'postgres', name: 'embedded postgres', logLevel: configuredLogLevel }, async (life, log) => {
  const cfg = config();
  const recent: string[] = [];
  const pg = await startEmbeddedPostgres({
    dataDir: cfg.embeddedPg.dataDir,
    port: cfg.embeddedPg.port,
    database: 'finishline',
    onLog: (line) => {
      recent.push(line.trim());
      if (recent.length > 20) recent.shift();
    },
  }).catch((err: unknown) => {
    log.error('embedded postgres failed to start', { err, log: recent.join('\n') });
    throw err;
  });
  life.onStop('postgres', () => pg.stop());
  log.info('embedded postgres ready', { port: cfg.embeddedPg.port, dataDir: cfg.embeddedPg.dataDir });
  process.send?.({ type: 'ready', url: pg.url });
});
