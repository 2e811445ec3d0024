import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { config, configuredLogLevel } from '../lib/config';
import { deleteBatchQueue } from '../lib/batches/batch-queues';
import { createPool, withTransaction } from '../lib/db/pool';
import { readIntake } from '../lib/db/intake';
import { heartbeatWorker, markWorkerStopped, readWorkerDesired, registerWorker, setWorkerPaused } from '../lib/db/workers';
import { errorMessage } from '../lib/errors';
import { runProcess } from '../lib/lifecycle';
import { startBoss } from '../lib/queue/boss';
import { CELL_DEAD_LETTER_QUEUE, CELL_QUEUE, isSlowBatch, SLOW_CELL_QUEUE } from '../lib/queue/cell-job';
import { IMAGE_QUEUE, parseImageJob } from '../lib/queue/image-job';
import { cellQueueSettings, prepareDatabase } from '../lib/queue/prepare-database';
import { startTelemetry } from '../lib/telemetry/sdk';
import { recordDeadLetters } from './dead-letters';
import { failAttempts } from '../lib/batches/fail-attempts';
import { FetchTraces } from './fetch-spans';
import { followIntake } from './intake';
import { buildImage } from './build-image';
import { RunningBatchOrder } from './batch-order';
import { CellFetchLoops } from './cell-fetch';
import { listenForCellNotices } from './cell-notices';
import { Holding } from './holding';
import { PaintParamsCache } from './paint-params';
import { processCellJobs } from './process-cells';
import { processSlowCells } from './process-slow-cells';
import { SlowCellRecorder } from './slow-cell-recorder';
import { RenderPool } from './render-pool';
import { RunningBatches } from './running-batches';
import { ThroughputMeter, startThroughputWriter } from './throughput';

/**
 * Finished slow cells wait at most this long to be recorded: a person sees each worker's tiles land
 * about five times a second (and at the end of each fetch), and a recording carries many tiles.
 */
const SLOW_CELL_FLUSH_MS = 200;
/**
 * A fetch loop that found no cell job in any running batch looks again this often; a notice of new
 * cells wakes it sooner, so this only bounds how late a retry that came due is seen (pg-boss's own
 * poll was 0.5 s).
 */
const IDLE_POLL_MS = 500;

/** A worker process: fetches cell jobs in batches and records them. Holds no web server state. */
runProcess({ proc: 'worker', name: 'worker', fields: { worker: config().workerId }, logLevel: configuredLogLevel }, async (life, log) => {
  const cfg = config();
  if (!cfg.databaseUrl) throw new Error('DATABASE_URL is not set: start workers with `npm start`, or set DATABASE_URL to run one alone.');
  // First in, so stopped last: it flushes the spans of everything stopped before it.
  life.onStop('telemetry', await startTelemetry(cfg.otel, { role: 'worker', instanceId: cfg.workerId }, log));

  // A frozen worker must not hold a batch's row lock for long: the server ends its idle transaction.
  // It waits for a row lock a little longer than that, so a lock held by a frozen worker is waited
  // out rather than failing the recording (the pools' default lock_timeout is shorter).
  const idleLimit = `-c idle_in_transaction_session_timeout=${cfg.cellTimeoutMs + 5000} -c lock_timeout=${cfg.cellTimeoutMs + 10_000}`;
  const pool = createPool(
    cfg.databaseUrl,
    cfg.workerLoops + 2,
    log,
    `finish-line-worker-${cfg.workerId}`,
    idleLimit,
    cfg.dbSessionTimeouts,
  );
  life.onStop('database pool', () => pool.end());
  await prepareDatabase(pool, cfg.databaseUrl, log, cellQueueSettings(cfg));

  let cellsServed = 0;
  let unreported = 0;
  await registerWorker(pool, { id: cfg.workerId, host: hostname(), pid: process.pid, tags: cfg.workerTags });
  const beat = setInterval(() => {
    const served = unreported;
    unreported = 0;
    heartbeatWorker(pool, cfg.workerId, served)
      .then(() => (cfg.workerHealthFile ? writeFile(cfg.workerHealthFile, new Date().toISOString()) : undefined))
      .catch((err: unknown) => {
        unreported += served;
        log.warn('worker heartbeat failed', { err });
      });
  }, cfg.workerHeartbeatSeconds * 1000);
  life.onStop('worker registry', async () => {
    clearInterval(beat);
    await heartbeatWorker(pool, cfg.workerId, unreported).catch(() => undefined);
    await markWorkerStopped(pool, cfg.workerId).catch(() => undefined);
    log.info('worker served', { cellsServed });
  });
  // For the dashboard's chart; registered before pg-boss so its last write follows the last jobs.
  const meter = new ThroughputMeter();
  life.onStop('throughput samples', startThroughputWriter(pool, cfg.workerId, meter, log));

  // What this worker holds, for the batch page's panel; stopped after pg-boss, so it ends at "nothing".
  const holding = new Holding();
  life.onStop('held cells', holding.startWriter(pool, cfg.workerId, log));

  const boss = await startBoss(cfg.databaseUrl, 'worker', log, cfg.workerLoops * 2 + 4, idleLimit, cfg.otel.enabled);
  life.onStop('pg-boss', () => boss.stop({ graceful: true, timeout: 10_000 }));

  const polling = {
    // The defaults poll one job every two seconds; a batch needs thousands at once.
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5,
    notifyPollingIntervalSeconds: 2,
  } as const;

  const traces = new FetchTraces(pool, cfg.workerId, cfg.otel.enabled);
  const running = new RunningBatches();
  // Cell jobs are fetched from the running batches' queues, in their order (workers/cell-fetch.ts),
  // of the batches whose tag this worker serves (WORKER_TAGS) only.
  const order = new RunningBatchOrder(pool);
  const tags = new Set(cfg.workerTags);
  // The worker whose recording completed a batch deletes its queue, with any duplicate or retried
  // job of it still in there, in the background; web servers' sweep does it if this fails.
  const dropQueueOf = (batchId: string) =>
    void deleteBatchQueue({ pool, boss }, batchId, 1).catch((err: unknown) =>
      log.debug('deleting a completed batch queue failed; the sweep will', { batchId, err: errorMessage(err) }),
    );

  // Cells are recorded in a transaction of our own, and pg-boss completes the jobs after it commits.
  // A worker that dies in between leaves jobs whose cells are recorded; they run again and the
  // first-write-wins insert absorbs them. Completing inside the transaction instead would hold the
  // batch's row lock through pg-boss's completion of the whole fetch.
  const cellWork = new CellFetchLoops({
    boss,
    order,
    serves: (batch) => tags.has(batch.tag) && !isSlowBatch(batch),
    legacyQueue: tags.has('default') ? CELL_QUEUE : undefined,
    loops: cfg.workerLoops,
    batchSize: cfg.workerFetchSize,
    idleMs: IDLE_POLL_MS,
    log,
    handle: async (queue, jobs) => {
      const spans = await traces.start('cells record', jobs);
      const held = Holding.countByBatch(jobs);
      for (const [batchId, n] of held) holding.add(batchId, n);
      let firstFailure: string | undefined;
      let exhausted = 0;
      try {
        const result = await withTransaction(pool, (tx) =>
          processCellJobs(tx, jobs, {
            boss,
            workerId: cfg.workerId,
            cellTimeoutMs: cfg.cellTimeoutMs,
            faults: cfg.faults,
            failAttempts: async (tx, attempts) => {
              const failed = await failAttempts(tx, attempts, { boss, retryLimit: cfg.cellRetryLimit });
              for (const { job, message } of attempts) {
                firstFailure ??= message;
                log.debug('cell attempt failed', {
                  queue,
                  jobId: job.id,
                  workFailures: failed.failures.get(job.id),
                  err: message,
                });
              }
              exhausted = failed.exhausted;
              return failed;
            },
          }),
        );
        spans.end(result);
        const served = jobs.length - result.failedAttempts - result.skipped;
        cellsServed += served;
        unreported += served;
        meter.add(served);
        // One line per fetch, not per cell: a batch of failing cells must not flood the log.
        if (result.failedAttempts > 0)
          log.warn('cell attempts failed', {
            queue,
            failed: result.failedAttempts,
            failedForGood: exhausted,
            fetched: jobs.length,
            firstError: firstFailure,
          });
        if (result.skipped > 0) log.debug('cells of ended batches skipped', { queue, skipped: result.skipped, fetched: jobs.length });
        for (const c of result.completions) {
          log.info('batch completed', { batchId: c.batchId, queue, total: c.total, failed: c.failed, elapsedMs: c.elapsedMs });
          dropQueueOf(c.batchId);
        }
      } catch (err) {
        spans.fail(err);
        // pg-boss fails the fetch's jobs and retries them, saying nothing: this is the one line about it.
        // A database failure, not the cells' own: it spends none of their retries (see fail-attempts.ts).
        log.warn('recording a fetch failed; its jobs will be retried', { queue, jobs: jobs.length, err: errorMessage(err) });
        throw err;
      } finally {
        for (const [batchId, n] of held) holding.remove(batchId, n);
      }
    },
  });

  // Slow cells (picture tiles, simulated work): a few per fetch, each recorded soon after it is done,
  // through one recorder for the whole process.
  const render = new RenderPool(cfg.renderThreads, cfg.renderNice);
  life.onStop('render threads', () => render.close());
  const recorder = new SlowCellRecorder({
    boss,
    pool,
    workerId: cfg.workerId,
    flushMs: SLOW_CELL_FLUSH_MS,
    failAttempts: async (tx, attempts) => {
      const failed = await failAttempts(tx, attempts, { boss, retryLimit: cfg.cellRetryLimit });
      for (const { job, message } of attempts)
        log.debug('cell attempt failed', {
          queue: job.name,
          jobId: job.id,
          workFailures: failed.failures.get(job.id),
          err: message,
        });
      return failed;
    },
    onRecorded: (result) => {
      const served = [...result.colored.values()].reduce((n, cells) => n + cells.length, 0);
      cellsServed += served;
      unreported += served;
      meter.add(served);
      if (result.failedAttempts > 0)
        log.warn('cell attempts failed', { slow: true, failed: result.failedAttempts, firstError: result.firstFailure });
      for (const c of result.completions) {
        log.info('batch completed', {
          batchId: c.batchId,
          slow: true,
          total: c.total,
          failed: c.failed,
          elapsedMs: c.elapsedMs,
        });
        dropQueueOf(c.batchId);
      }
    },
  });
  const slowCells = {
    pool,
    render,
    recorder,
    running,
    params: new PaintParamsCache(),
    slots: cfg.renderThreads,
    cellTimeoutMs: cfg.cellTimeoutMs,
    faults: cfg.faults,
  };
  const slowCellWork = new CellFetchLoops({
    boss,
    order,
    serves: (batch) => tags.has(batch.tag) && isSlowBatch(batch),
    legacyQueue: tags.has('default') ? SLOW_CELL_QUEUE : undefined,
    loops: cfg.workerLoops,
    batchSize: cfg.tileFetchSize,
    idleMs: IDLE_POLL_MS,
    log,
    handle: async (queue, jobs) => {
      const spans = await traces.start('cells record', jobs);
      const held = Holding.countByBatch(jobs);
      for (const [batchId, n] of held) holding.add(batchId, n);
      try {
        await processSlowCells(jobs, slowCells);
        spans.end({ colored: new Map(), failed: new Map(), completed: [], completions: [] });
      } catch (err) {
        spans.fail(err);
        log.warn('recording slow cells failed; their jobs will be retried', {
          queue,
          jobs: jobs.length,
          err: errorMessage(err),
        });
        throw err;
      } finally {
        for (const [batchId, n] of held) holding.remove(batchId, n);
      }
    },
  });
  // Stopped before pg-boss (stops run last-registered first), whether or not intake stopped them.
  life.onStop('cell fetch loops', () => Promise.all([cellWork.stop(), slowCellWork.stop()]).then(() => undefined));
  // A batch with new cells is fetched from at once, not at the next poll.
  life.onStop(
    'cell notices',
    listenForCellNotices(
      cfg.databaseUrl,
      () => {
        order.stale();
        cellWork.wake();
        slowCellWork.wake();
      },
      log,
      `finish-line-worker-${cfg.workerId}-notices`,
    ),
  );

  // The image stage of each ended batch: one job per batch, retried from scratch if cut short.
  await boss.work(IMAGE_QUEUE, { ...polling, batchSize: 1 }, async ([job]) => {
    const { batchId } = parseImageJob(job.data);
    const started = Date.now();
    const outcome = await buildImage(pool, batchId, cfg.faults);
    if ('built' in outcome)
      log.info('batch image built', { batchId, queue: IMAGE_QUEUE, jobId: job.id, ...outcome.built.image, ms: Date.now() - started });
    else log.debug('batch image skipped', { batchId, queue: IMAGE_QUEUE, jobId: job.id, reason: outcome.skipped });
  });

  // The metadata carries the failed job's last error (sourceOutput).
  await boss.work(CELL_DEAD_LETTER_QUEUE, { ...polling, batchSize: 100, includeMetadata: true }, async (jobs) => {
    const spans = await traces.start('cells dead-letter', jobs);
    try {
      const result = await withTransaction(pool, (tx) => recordDeadLetters(tx, jobs, { boss, workerId: cfg.workerId }));
      spans.end(result);
      for (const [batchId, cells] of result.failed)
        log.warn('cells failed for good', { batchId, queue: CELL_DEAD_LETTER_QUEUE, cells: cells.length });
      for (const c of result.completions) {
        log.info('batch completed', {
          batchId: c.batchId,
          queue: CELL_DEAD_LETTER_QUEUE,
          total: c.total,
          failed: c.failed,
          elapsedMs: c.elapsedMs,
        });
        dropQueueOf(c.batchId);
      }
    } catch (err) {
      spans.fail(err);
      log.warn('recording dead letters failed; they will be retried', {
        queue: CELL_DEAD_LETTER_QUEUE,
        jobs: jobs.length,
        err: errorMessage(err),
      });
      throw err;
    }
  });

  // Cell jobs are fetched only while intake is on (the dashboard's pause switch, in Postgres).
  const intake = await followIntake(
    {
      readPaused: async () => (await readIntake(pool)).paused,
      readDesired: () => readWorkerDesired(pool, cfg.workerId),
      startWork: async () => {
        cellWork.start();
        slowCellWork.start();
      },
      stopWork: async () => {
        await Promise.all([cellWork.stop(), slowCellWork.stop()]);
      },
      recordPaused: (paused) => setWorkerPaused(pool, cfg.workerId, paused),
      // Drained: the orderly shutdown a SIGTERM starts, so the process exits 0, its row ends stopped,
      // and the start script, which restarts only crashed workers, leaves it stopped.
      drained: () => life.requestStop('drained'),
    },
    log,
  );
  life.onStop('intake', intake);

  log.info('worker started', { fetchSize: cfg.workerFetchSize, loops: cfg.workerLoops, tags: cfg.workerTags });
});
