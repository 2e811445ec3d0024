import { config } from '../lib/config';
import { createPool } from '../lib/db/pool';
import { fromExecutor } from '../lib/db/sql';
import { errorMessage } from '../lib/errors';
import { runProcess } from '../lib/lifecycle';
import { startBoss } from '../lib/queue/boss';
import { prepareDatabase } from '../lib/setup';
import { CELL_QUEUE } from '../lib/queue/cell-job';
import { recordCells } from './record-cells';

/** A worker process: fetches cell jobs in batches and records them. Holds no web server state. */
runProcess({ proc: 'worker', name: 'worker', fields: { worker: config().workerId } }, async (life, log) => {
  const cfg = config();
  if (!cfg.databaseUrl) throw new Error('DATABASE_URL is not set: start workers with `npm start`, or set DATABASE_URL to run one alone.');

  const pool = createPool(cfg.databaseUrl, 4, log, `finish-line-worker-${cfg.workerId}`);
  life.onStop('database pool', () => pool.end());
  await prepareDatabase(pool, cfg.databaseUrl, log);

  // One connection per loop runs the handler's transaction; the rest fetch, fail and supervise.
  const boss = await startBoss(cfg.databaseUrl, 'worker', log, cfg.workerLoops * 2 + 4);
  life.onStop('pg-boss', () => boss.stop({ graceful: true, timeout: 10_000 }));

  let cellsServed = 0;
  await boss.work(
    CELL_QUEUE,
    {
      batchSize: cfg.workerFetchSize,
      localConcurrency: cfg.workerLoops,
      // The defaults poll one job every two seconds; a batch needs all of its cells at once.
      burstWhenBatchFull: true,
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 2,
      transactional: true,
    },
    async (jobs, tx) => {
      try {
        const result = await recordCells(fromExecutor(tx), jobs, cfg.workerId);
        cellsServed += jobs.length;
        for (const batchId of result.completed) log.info('batch completed', { batchId, queue: CELL_QUEUE });
      } catch (err) {
        log.warn('cell jobs failed; pg-boss will retry them', {
          queue: CELL_QUEUE,
          jobs: jobs.length,
          firstJob: jobs[0]?.id,
          err: errorMessage(err),
        });
        throw err;
      }
    },
  );
  log.info('worker started', { queue: CELL_QUEUE, fetchSize: cfg.workerFetchSize, loops: cfg.workerLoops });
  life.onStop('report', () => log.info('worker served', { cellsServed }));
});
