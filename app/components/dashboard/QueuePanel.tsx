import type { QueueCounts, QueueGauge } from '@/lib/dashboard/types';
import { formatCount } from '../../client/format';

const GAUGES: { key: keyof QueueCounts; label: string; hint: string }[] = [
  { key: 'queued', label: 'Queued', hint: 'Cell jobs waiting for a worker' },
  { key: 'active', label: 'Active', hint: 'Fetched by a worker, not yet completed' },
  { key: 'retrying', label: 'Retrying', hint: 'Failed an attempt; waiting for their retry' },
  { key: 'failed', label: 'Failed', hint: 'Out of retries (kept until retention)' },
  { key: 'deadLettered', label: 'Dead-lettered', hint: 'Jobs in the dead-letter queue (cell-dead)' },
];

function show(gauge: QueueGauge): string {
  if (gauge.kind === 'estimate') return `≈ ${formatCount(gauge.count)}`;
  if (gauge.kind === 'atLeast') return `${formatCount(gauge.count)}+`;
  return formatCount(gauge.count);
}

/** The cell queue by state, as pg-boss holds it. */
export function QueuePanel({ queue }: { queue: QueueCounts }) {
  return (
    <section aria-labelledby="queue-heading">
      <h2 id="queue-heading">Cell queue</h2>
      <dl className="stats">
        {GAUGES.map(({ key, label, hint }) => (
          <div key={key} className={`stat stat-${key}`} title={hint}>
            <dt>{label}</dt>
            <dd data-testid={`queue-${key}`} data-count={queue[key].count} data-kind={queue[key].kind}>
              {show(queue[key])}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
