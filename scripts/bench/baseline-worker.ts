import { PgBoss } from 'pg-boss';

/**
 * The bench's baselines: bare pg-boss on the same PostgreSQL, started by scripts/bench/main.ts with
 * BASELINE_URL, QUEUE and BASELINE, doing nothing but take and complete jobs, with the best settings
 * we know (batch fetch of 1,000, fetch again at once while fetches come back full, LISTEN/NOTIFY,
 * two local loops):
 * - `bare`: one such worker per app worker; no fan-in at all;
 * - `reference`: one process, the fan-in counter of the jobs' batch updated in the transaction that
 *   completes each fetch (pg-boss's `transactional` worker), as a hand-written fan-in would be.
 * The bench keeps whichever finishes first, so its ratios are against the fastest of them.
 */
const url = process.env.BASELINE_URL;
const queue = process.env.QUEUE ?? 'baseline';
const kind = process.env.BASELINE ?? 'bare';
if (!url) throw new Error('BASELINE_URL is not set');
if (kind !== 'bare' && kind !== 'reference') throw new Error(`BASELINE is bare or reference; got ${kind}`);

const boss = new PgBoss({
  connectionString: url,
  max: 8,
  useListenNotify: true,
  schedule: false,
  superviseIntervalSeconds: 5,
  monitorIntervalSeconds: 5,
});
boss.on('error', () => undefined);
await boss.start();
const options = {
  batchSize: 1000,
  burstWhenBatchFull: true,
  localConcurrency: 2,
  pollingIntervalSeconds: 0.5,
  notifyPollingIntervalSeconds: 2,
};
// Each fetch is reported as its handler ends (pg-boss completes it right after, or commits it with
// the counter), so the bench need not poll the job table, which would load the database it measures.
const handled = (count: number) => void process.send?.({ type: 'handled', count });
if (kind === 'bare') {
  await boss.work(queue, options, async (jobs) => handled(jobs.length));
} else {
  await boss.work(queue, { ...options, transactional: true }, async (jobs, tx) => {
    await tx.executeSql('update bench_fan_in set done = done + $1 where id = 1', [jobs.length]);
    handled(jobs.length);
  });
}
process.send?.({ type: 'ready' });
const stop = async () => {
  await boss.stop({ graceful: false });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('disconnect', () => void stop());
