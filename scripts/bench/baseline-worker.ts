import { PgBoss } from 'pg-boss';

/**
 * The bench's baseline: bare pg-boss on the same PostgreSQL, fetching and completing jobs with the
 * best settings we know (batch fetch, burst while full, LISTEN/NOTIFY, two local loops) and doing
 * nothing else: no tracker, no sockets. Started by scripts/bench/main.ts with BASELINE_URL and QUEUE.
 */
const url = process.env.BASELINE_URL;
const queue = process.env.QUEUE ?? 'baseline';
if (!url) throw new Error('BASELINE_URL is not set');

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
await boss.work(
  queue,
  { batchSize: 1000, burstWhenBatchFull: true, localConcurrency: 2, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 2 },
  // Reports each fetch as its handler ends (pg-boss completes it right after), so the bench need not
  // poll the job table, which would load the database it is measuring.
  async (jobs) => void process.send?.({ type: 'handled', count: jobs.length }),
);
process.send?.({ type: 'ready' });
const stop = async () => {
  await boss.stop({ graceful: false });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('disconnect', () => void stop());
