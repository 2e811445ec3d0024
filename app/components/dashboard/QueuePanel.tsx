import type { QueueCounts, QueueGauge, TagLoad } from '@/lib/dashboard/types';
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

/** The cell queue by state, as pg-boss holds it, and the running work by tag. */
export function QueuePanel({ queue, tags }: { queue: QueueCounts; tags: TagLoad[] }) {
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
      {tags.length > 0 && (
        <table className="tag-load" data-testid="tag-load">
          <caption>Running, by tag</caption>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col" className="num">
                Batches
              </th>
              <th scope="col" className="num">
                Cells left
              </th>
              <th scope="col" className="num">
                Workers
              </th>
            </tr>
          </thead>
          <tbody>
            {tags.map((t) => (
              <tr key={t.tag} data-tag={t.tag} data-cells-left={t.cellsLeft} data-workers={t.workers}>
                <td>
                  <code>{t.tag}</code>
                </td>
                <td className="num">{formatCount(t.batches)}</td>
                <td className="num">{formatCount(t.cellsLeft)}</td>
                <td className="num">{t.workers > 0 ? formatCount(t.workers) : <span className="bad">none serves it</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
