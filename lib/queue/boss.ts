import { PgBoss } from 'pg-boss';
import type { Logger } from '../log';
import { CELL_DEAD_LETTER_QUEUE, CELL_QUEUE, CELL_QUEUE_OPTIONS } from './cell-job';

export type BossRole = 'producer' | 'worker';

/**
 * A pg-boss instance for one role. Producers only insert jobs inside our own transactions, so they
 * run no maintenance and hold no listener; workers supervise (expire, retry, archive) and listen.
 */
export async function startBoss(connectionString: string, role: BossRole, log: Logger, max = 10): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString,
    max,
    application_name: `finish-line-${role}`,
    supervise: role === 'worker',
    schedule: false,
    useListenNotify: role === 'worker',
    registerInstance: role === 'worker',
    instanceName: role,
  });
  // Without a listener an 'error' event would crash the process; pg-boss reconnects on its own.
  boss.on('error', (err) => log.warn('pg-boss error', { err }));
  boss.on('warning', (warning) => log.debug('pg-boss warning', { warning: warning.message }));
  await boss.start({ attempts: 5 });
  return boss;
}

/** Creates the cell queue and its dead-letter queue if they are missing; safe to call from every process. */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  if (!(await boss.getQueue(CELL_DEAD_LETTER_QUEUE))) {
    await boss.createQueue(CELL_DEAD_LETTER_QUEUE).catch(ignoreExists);
  }
  if (!(await boss.getQueue(CELL_QUEUE))) {
    await boss.createQueue(CELL_QUEUE, CELL_QUEUE_OPTIONS).catch(ignoreExists);
  }
}

// Two processes booting at once may both try; the loser's "already exists" is not an error.
function ignoreExists(err: unknown) {
  if (!/already exists/i.test(String((err as Error)?.message))) throw err;
}
