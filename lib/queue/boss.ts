import { PgBoss, type Queue } from 'pg-boss';
import type { Logger } from '../log';
import {
  CELL_DEAD_LETTER_QUEUE,
  CELL_QUEUE,
  type CellQueueSettings,
  SLOW_CELL_QUEUE,
  cellQueueOf,
  cellQueueOptions,
  cellQueueTemplateOf,
  deadLetterQueueOptions,
  slowCellQueueOptions,
} from './cell-job';
import type { BatchKind } from '../types';
import { IMAGE_QUEUE, imageQueueOptions } from './image-job';

export type BossRole = 'producer' | 'worker';

/**
 * How often a worker's pg-boss runs its retention sweep, which deletes finished jobs past their
 * queue's `deleteAfterSeconds`; each pass walks every queue once, by primary key, 10,000 jobs a
 * statement. A batch's jobs do not need it (they go with its queue, see ensureBatchQueue); the
 * shared queues (dead letters, images, schedules) do, and pg-boss's default is once a day. Every
 * minute, it walked a running million-cell batch's table and deleted its finished jobs one by one,
 * under the fetches: 101 s of PostgreSQL time and 2 GB of WAL in a 196 s batch.
 */
const MAINTENANCE_SECONDS = 600;

/**
 * A pg-boss instance for one role. Producers only insert jobs inside our own transactions, so they
 * run no maintenance and hold no listener; workers supervise (expire, retry, archive) and listen.
 * `telemetry`: whether the process registered an OpenTelemetry SDK (OTEL_* settings).
 * `scheduling`: run pg-boss's scheduler here (its cron pass and the forwarding of ticks), at these
 * intervals; the web servers do, for recurring batches (lib/batches/schedules.ts).
 */
export async function startBoss(
  connectionString: string,
  role: BossRole,
  log: Logger,
  max = 10,
  pgOptions?: string,
  telemetry = false,
  scheduling?: { cronMonitorIntervalSeconds: number; cronWorkerIntervalSeconds: number },
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString,
    max,
    options: pgOptions,
    // Expired and heartbeat-lost jobs are found on this pass; keep it short so they come back fast.
    superviseIntervalSeconds: 5,
    monitorIntervalSeconds: 5,
    maintenanceIntervalSeconds: MAINTENANCE_SECONDS,
    application_name: `finish-line-${role}`,
    supervise: role === 'worker',
    schedule: scheduling !== undefined,
    ...scheduling,
    useListenNotify: role === 'worker',
    registerInstance: role === 'worker',
    instanceName: role,
    // pg-boss's built-in spans and metrics (send, process, complete; queue sizes) go to the SDK our
    // process registers. Off, it skips them entirely (and reads no trace context with each fetch).
    // Our batches carry their trace on their row, not on each of their jobs, so no per-job context.
    openTelemetry: { enabled: telemetry, propagateContext: false },
  });
  // Without a listener an 'error' event would crash the process; pg-boss reconnects on its own.
  boss.on('error', (err) => reportBossError(log, err));
  boss.on('warning', (warning) => log.debug('pg-boss warning', { warning: warning.message }));
  await boss.start({ attempts: 5 });
  return boss;
}

/**
 * One line for an error of pg-boss's background work (supervision, retention, monitoring), which it
 * repeats on its next pass. A deadlock there is PostgreSQL cancelling one side of a race it resolves
 * by itself: the retention walk reads a batch's job table through pg-boss's parent table while
 * another process drops that table with the batch's queue. Nothing is lost and nothing needs doing,
 * so it is said at info, not as a warning; anything else stays a warning.
 */
export function reportBossError(log: Logger, err: unknown): void {
  if ((err as { code?: unknown } | null)?.code === DEADLOCK)
    log.info('pg-boss background pass lost a deadlock (a queue dropped meanwhile); it runs again on its next pass', { err });
  else log.warn('pg-boss error', { err });
}

const DEADLOCK = '40P01';
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Creates the cell queue templates, their dead-letter queue and the image queue, or brings their settings up
 * to date (a database made by an older version gets the new retry limit and retention here); safe
 * to call from every process. Jobs already queued keep the settings they were sent with.
 */
export async function ensureQueues(boss: PgBoss, settings: CellQueueSettings): Promise<void> {
  await ensureQueue(boss, CELL_DEAD_LETTER_QUEUE, deadLetterQueueOptions(settings));
  await ensureQueue(boss, CELL_QUEUE, cellQueueOptions(settings));
  await ensureQueue(boss, SLOW_CELL_QUEUE, slowCellQueueOptions(settings));
  await ensureQueue(boss, IMAGE_QUEUE, imageQueueOptions(settings));
}

async function ensureQueue(boss: PgBoss, name: string, options: Omit<Queue, 'name'>) {
  if (!(await boss.getQueue(name))) {
    await boss.createQueue(name, options).catch(ignoreExists);
    return;
  }
  // deadLetter and heartbeat are fixed at creation; the rest follows the configuration.
  const {
    deadLetter: _deadLetter,
    heartbeatSeconds: _heartbeat,
    retryDelayMax: _max,
    partition: _partition,
    policy: _policy,
    ...updatable
  } = options;
  await boss.updateQueue(name, updatable);
}

// Two processes booting at once may both try; the loser's "already exists" is not an error.
function ignoreExists(err: unknown) {
  if (!/already exists/i.test(String((err as Error)?.message))) throw err;
}

/**
 * A batch's cells this many or more get a table of their own in pg-boss's job table (`partition`).
 *
 * In the shared table a batch's queue is a name PostgreSQL has no statistics for (a new one per
 * batch), so it plans pg-boss's fetch for a handful of rows: it walks the (name, created_on) index
 * and filters, reading every job of the batch already completed on each fetch. A batch's fetches
 * then cost O(n²): on a database with history, 9,801 cells took 5.3 s where 10,000 in a table of
 * their own took 1.0 s, and 90,000 took 47–82 s instead of 8–9 s. In a table of its own, the fetch
 * uses the index of jobs still to run. Deleting the queue then also drops the table at once, where
 * the shared table deletes its jobs and leaves dead rows for vacuum.
 *
 * A table of its own costs its creation (a table and a dozen indexes, 60–80 ms) and its drop takes a
 * brief ACCESS EXCLUSIVE lock on the job tables (pg-boss takes it without waiting, and tries again),
 * so batches too small for the walk to matter stay in the shared table.
 */
export const OWN_TABLE_FROM_CELLS = 1_000;

/**
 * Creates the queue of a batch's cell jobs if it does not exist yet, with the options of its
 * template as they are now (so a configuration change reaches the next batch). Idempotent, and
 * safe when two processes do it at once: the fan-out calls it before each run of inserts, so a
 * resumed fan-out, or one that starts later than its batch, finds its queue.
 */
export async function ensureBatchQueue(
  boss: PgBoss,
  batch: { id: string; kind: BatchKind; workMs?: number; total: number },
): Promise<string> {
  const name = cellQueueOf(batch.id);
  if (await boss.getQueue(name)) return name;
  const template = await boss.getQueue(cellQueueTemplateOf(batch));
  if (!template) throw new Error(`pg-boss queue ${cellQueueTemplateOf(batch)} is missing: prepare the database first`);
  const options: Omit<Queue, 'name'> = {
    policy: 'standard',
    notify: template.notify,
    retryLimit: template.retryLimit,
    retryDelay: template.retryDelay,
    retryBackoff: template.retryBackoff,
    // pg-boss refuses a maximum delay without backoff (a template updated to no backoff keeps its old one).
    retryDelayMax: template.retryBackoff ? template.retryDelayMax : undefined,
    heartbeatSeconds: template.heartbeatSeconds,
    expireInSeconds: template.expireInSeconds,
    deadLetter: template.deadLetter,
    // Kept until the batch ends, when they go with its queue at once (a table dropped, or one delete
    // of its jobs): deleting them one by one while it runs is work the drop makes pointless.
    deleteAfterSeconds: 0,
    partition: batch.total >= OWN_TABLE_FROM_CELLS,
  };
  // pg-boss checks the options that are present, so an unset one is left out rather than undefined.
  const set = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && v !== null));
  // A table of its own is DDL on pg-boss's job table, which can lose a deadlock to a worker's
  // retention pass or another queue's drop (PostgreSQL cancels one side): it is tried again.
  await retryLockRace(
    CREATE_TRIES,
    (tried) => 100 * tried,
    () => boss.createQueue(name, set).catch(ignoreExists),
  );
  return name;
}

const CREATE_TRIES = 5;

/**
 * A statement that lost a deadlock (40P01) or could not have its lock now (55P03): a queue's table
 * made or dropped while a worker's retention pass reads the job tables. Trying again later is all
 * there is to do.
 */
export function isLockRace(err: unknown): boolean {
  const codes = [(err as { code?: unknown } | null)?.code, (err as { cause?: { code?: unknown } } | null)?.cause?.code];
  return codes.some((code) => code === LOCK_NOT_AVAILABLE || code === DEADLOCK);
}

/** Runs `work` up to `tries` times while it loses a lock race, waiting `delayMs(tried)` between tries. */
export async function retryLockRace<T>(tries: number, delayMs: (tried: number) => number, work: () => Promise<T>): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await work();
    } catch (err) {
      if (!isLockRace(err) || tried >= tries) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs(tried)));
    }
  }
}
