import type pg from 'pg';
import type { JobWithMetadata, PgBoss, Queue } from 'pg-boss';
import { withTransaction } from '../db/pool';
import {
  deleteSchedule as deleteScheduleRow,
  findSchedule,
  insertSchedule,
  listSchedules as listScheduleRows,
  recordScheduleRun,
  type ScheduleRow,
} from '../db/schedules';
import { toExecutor } from '../db/sql';
import { errorMessage, PublicError } from '../errors';
import type { Logger } from '../log';
import type { ScheduleInput } from './schedule-input';
import { startBatch, type StartBatchDeps } from './start-batch';

/**
 * Recurring batches on pg-boss's own scheduler: each schedule is a pg-boss schedule on one queue
 * (`batch-schedule`, key = the schedule's name). pg-boss's cron pass, on whichever web server
 * claims it, sends one job per tick whatever the number of processes; any web server takes that
 * job and starts the tick's batch through the normal start path, with an idempotency key made of
 * the schedule's name and the tick, so a tick handled twice still makes one batch.
 */
export const SCHEDULE_QUEUE = 'batch-schedule';

/** A schedule as the API shows it (the contract's fields, and `lastBatchId` / `lastRunAt` as extensions). */
export interface Schedule extends ScheduleRow {
  nextRunAt: string | null;
}

interface TickData {
  schedule: string;
}

const SCHEDULE_QUEUE_OPTIONS: Omit<Queue, 'name'> = {
  // A tick that finds the server full (503 busy) or PostgreSQL away is tried again a few times
  // within its minute; its idempotency key makes a retry of a tick that did start a no-op.
  retryLimit: 3,
  retryDelay: 5,
  retryBackoff: true,
  expireInSeconds: 120,
  deleteAfterSeconds: 24 * 3600,
};

/**
 * How the web servers' pg-boss runs its scheduler: a cron pass every 5 s (pg-boss's default is
 * 30 s) and its forwarding every 2 s, so a tick's batch starts within seconds of its minute. Ticks
 * stay one a minute at most: that is pg-boss's finest granularity (one job per 60-second slot).
 */
export const SCHEDULER_SETTINGS = { cronMonitorIntervalSeconds: 5, cronWorkerIntervalSeconds: 2 } as const;

export async function ensureScheduleQueue(boss: PgBoss): Promise<void> {
  if (await boss.getQueue(SCHEDULE_QUEUE)) return;
  await boss.createQueue(SCHEDULE_QUEUE, SCHEDULE_QUEUE_OPTIONS).catch((err: unknown) => {
    if (!/already exists/i.test(String((err as Error)?.message))) throw err;
  });
}

/** When the schedule's cron next comes round in its zone, after `from` (now). */
export function nextRunOf(boss: PgBoss, cron: string, timezone: string, from?: Date): Date {
  const [next] = boss.previewSchedule(cron, { tz: timezone, count: 1, ...(from ? { from } : {}) });
  if (!next) throw new Error('the expression has no next occurrence');
  return next;
}

function withNextRun(boss: PgBoss, row: ScheduleRow): Schedule {
  let nextRunAt: string | null = null;
  try {
    nextRunAt = nextRunOf(boss, row.cron, row.timezone).toISOString();
  } catch {
    // A row whose expression this version can no longer read shows without a next run.
  }
  return { ...row, nextRunAt };
}

/** Stores the schedule and its pg-boss schedule in one transaction; 409 `already_exists` for a name taken. */
export async function createSchedule(deps: { pool: pg.Pool; boss: PgBoss }, input: ScheduleInput): Promise<Schedule> {
  const row = await withTransaction(deps.pool, async (tx) => {
    const inserted = await insertSchedule(tx, input);
    if (!inserted) {
      throw new PublicError('already_exists', `A schedule named "${input.name}" exists already; delete it first, or pick another name.`);
    }
    await deps.boss.schedule(SCHEDULE_QUEUE, input.cron, { schedule: input.name } satisfies TickData, {
      tz: input.timezone,
      key: input.name,
      db: toExecutor(tx),
    });
    return inserted;
  });
  return withNextRun(deps.boss, row);
}

export async function listSchedules(deps: { pool: pg.Pool; boss: PgBoss }): Promise<Schedule[]> {
  return (await listScheduleRows(deps.pool)).map((row) => withNextRun(deps.boss, row));
}

/** Deletes the schedule and its pg-boss schedule together; false when there was none. Batches it started stay. */
export async function deleteSchedule(deps: { pool: pg.Pool; boss: PgBoss }, name: string): Promise<boolean> {
  return withTransaction(deps.pool, async (tx) => {
    if (!(await deleteScheduleRow(tx, name))) return false;
    await deps.boss.unschedule(SCHEDULE_QUEUE, name, { db: toExecutor(tx) });
    return true;
  });
}

/**
 * The tick a job was sent for: the schedule's latest occurrence at or before the job's creation.
 * pg-boss sends a tick's job within its 60-second window (seconds after the tick, with the settings
 * above), and the job carries only the schedule's data, so the tick is read back from the cron.
 */
export function tickOf(boss: PgBoss, schedule: Pick<ScheduleRow, 'cron' | 'timezone'>, createdOn: Date): Date {
  const from = new Date(createdOn.getTime() - 120_000);
  const occurrences = boss.previewSchedule(schedule.cron, { tz: schedule.timezone, from, count: 3 });
  const due = occurrences.filter((d) => d.getTime() <= createdOn.getTime());
  // None in the last two minutes: the job waited long; its minute stands for the tick.
  return due.at(-1) ?? new Date(Math.floor(createdOn.getTime() / 60_000) * 60_000);
}

/**
 * The idempotency key of a schedule's tick: one batch per (schedule, tick), however often it is
 * handled. It has spaces, which a client's Idempotency-Key may not (validate.ts), so no client can
 * take a tick's batch by sending its key first.
 */
export function tickKey(name: string, tick: Date): string {
  return `schedule ${name} ${tick.toISOString()}`;
}

/**
 * Starts the batch of one tick: the schedule's stored body, `"schedule": name`, and the tick's
 * idempotency key. Null when the schedule was deleted since the tick was sent, or when the tick
 * came before the schedule: pg-boss counts an occurrence due for a minute after it, so a schedule
 * created at 12:00:40 would otherwise start a batch at once for 12:00:00. Its first batch is at its
 * first tick after its creation (its `nextRunAt` then).
 */
export async function runTick(
  deps: StartBatchDeps,
  name: string,
  createdOn: Date,
): Promise<{ batchId: string; created: boolean; tick: Date } | null> {
  const schedule = await findSchedule(deps.pool, name);
  if (!schedule) return null;
  const tick = tickOf(deps.boss, schedule, createdOn);
  if (tick.getTime() < Date.parse(schedule.createdAt)) return null;
  const { batch, created, fanOut } = await startBatch(deps, { ...schedule.batch, schedule: name }, tickKey(name, tick));
  void fanOut?.catch(() => undefined);
  await recordScheduleRun(deps.pool, name, batch.id, tick);
  return { batchId: batch.id, created, tick };
}

/** The web servers' side of the schedule queue: each takes due ticks and starts their batches. */
export async function workScheduleTicks(deps: StartBatchDeps, log: Logger): Promise<() => Promise<void>> {
  await ensureScheduleQueue(deps.boss);
  const workerId = await deps.boss.work(
    SCHEDULE_QUEUE,
    { pollingIntervalSeconds: 1, batchSize: 5, includeMetadata: true as const },
    async (jobs: JobWithMetadata<TickData>[]) => {
      for (const job of jobs) {
        const name = String(job.data?.schedule);
        try {
          const result = await runTick(deps, name, job.createdOn);
          if (!result) log.info('tick skipped: its schedule is deleted, or was created after it', { schedule: name });
          else if (result.created) log.info('scheduled batch created', { schedule: name, batchId: result.batchId, tick: result.tick });
        } catch (err) {
          log.warn('schedule tick failed; pg-boss retries it', { schedule: name, err: errorMessage(err) });
          throw err;
        }
      }
    },
  );
  return async () => {
    await deps.boss.offWork(SCHEDULE_QUEUE, { id: workerId }).catch(() => undefined);
  };
}
