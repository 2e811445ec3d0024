import type pg from 'pg';
import { config } from './config';
import { migrate } from './db/migrate';
import type { Logger } from './log';
import { ensureQueues, startBoss } from './queue/boss';

/**
 * Brings a database up to date: our numbered migrations, pg-boss's schema and the cell queues.
 * Every step is idempotent and safe when several processes boot at once.
 */
export async function prepareDatabase(pool: pg.Pool, connectionString: string, log: Logger): Promise<void> {
  await migrate(pool, log);
  const boss = await startBoss(connectionString, 'producer', log, 2);
  try {
    const cfg = config();
    await ensureQueues(boss, {
      retryLimit: cfg.cellRetryLimit,
      heartbeatSeconds: cfg.cellHeartbeatSeconds,
      cellTimeoutMs: cfg.cellTimeoutMs,
      retentionDays: cfg.retentionDays,
    });
  } finally {
    await boss.stop({ graceful: false });
  }
}
