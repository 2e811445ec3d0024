import type pg from 'pg';
import type { Config } from '../config';
import { migrate } from '../db/migrate';
import type { Logger } from '../log';
import { ensureQueues, startBoss } from './boss';
import type { CellQueueSettings } from './cell-job';

/** The queues' settings, picked from the process's configuration by its `main()`. */
export function cellQueueSettings(
  cfg: Pick<Config, 'cellRetryLimit' | 'cellHeartbeatSeconds' | 'cellTimeoutMs' | 'retentionDays'>,
): CellQueueSettings {
  return {
    retryLimit: cfg.cellRetryLimit,
    heartbeatSeconds: cfg.cellHeartbeatSeconds,
    cellTimeoutMs: cfg.cellTimeoutMs,
    retentionDays: cfg.retentionDays,
  };
}

/**
 * Brings a database up to date: our numbered migrations, pg-boss's schema and the cell queues.
 * Every step is idempotent and safe when several processes boot at once.
 */
export async function prepareDatabase(pool: pg.Pool, connectionString: string, log: Logger, queues: CellQueueSettings): Promise<void> {
  await migrate(pool, log);
  const boss = await startBoss(connectionString, 'producer', log, 2);
  try {
    await ensureQueues(boss, queues);
  } finally {
    await boss.stop({ graceful: false });
  }
}
