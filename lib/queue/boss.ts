import { PgBoss, type Queue } from 'pg-boss';
import type { Logger } from '../log';
import {
  CELL_DEAD_LETTER_QUEUE,
  CELL_QUEUE,
  type CellQueueSettings,
  SLOW_CELL_QUEUE,
  cellQueueOptions,
  deadLetterQueueOptions,
  slowCellQueueOptions,
} from './cell-job';
import { IMAGE_QUEUE, imageQueueOptions } from './image-job';

export type BossRole = 'producer' | 'worker';

/**
 * How often a worker's pg-boss runs its retention sweep, which deletes finished jobs past their
 * queue's `deleteAfterSeconds`. pg-boss's default is once a day, which would keep a day of finished
 * cell jobs on disk whatever their queue says; each pass walks the queue once, by primary key.
 */
const MAINTENANCE_SECONDS = 60;

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
  boss.on('error', (err) => log.warn('pg-boss error', { err }));
  boss.on('warning', (warning) => log.debug('pg-boss warning', { warning: warning.message }));
  await boss.start({ attempts: 5 });
  return boss;
}

/**
 * Creates the cell queues, their dead-letter queue and the image queue, or brings their settings up
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
