import type { ThroughputSeries } from '@/lib/dashboard/types';
import { formatCount } from '../../client/format';

const HEIGHT = 100;

/** The smallest 1, 2 or 5 × 10^n at or above `n`, so the axis reads in round numbers. */
function niceCeiling(n: number): number {
  if (n <= 10) return 10;
  const power = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= n) ?? 10 * power;
}

/** A step line per second over the series, as one SVG path (no chart library needed). */
function paths(values: number[], max: number): { line: string; area: string } {
  const y = (v: number) => (HEIGHT - (v / max) * HEIGHT).toFixed(2);
  let line = '';
  values.forEach((v, i) => {
    line += `${i === 0 ? 'M' : 'L'}${i},${y(v)}L${i + 1},${y(v)}`;
  });
  return { line, area: `M0,${HEIGHT}${line.replace(/^M/, 'L')}L${values.length},${HEIGHT}Z` };
}

/** Cells per second, all workers together, over the last minutes: from Postgres, not this page's memory. */
export function ThroughputChart({ series }: { series: ThroughputSeries }) {
  const values = series.perSecond;
  const peak = Math.max(0, ...values);
  const max = niceCeiling(peak);
  const total = values.reduce((a, b) => a + b, 0);
  const latest = values.at(-1) ?? 0;
  const minutes = Math.round(values.length / 60);
  const { line, area } = paths(values, max);

  return (
    <section aria-labelledby="throughput-heading">
      <h2 id="throughput-heading">Throughput</h2>
      <div className="chart-card">
        <p className="chart-summary" data-testid="throughput-summary">
          <span>
            Last second: <strong>{formatCount(latest)}</strong> cells/s
          </span>
          <span>
            Peak: <strong>{formatCount(peak)}</strong> cells/s
          </span>
          <span>
            {formatCount(total)} cells in {minutes} min
          </span>
        </p>
        <div className="chart">
          <div className="chart-y" aria-hidden="true">
            <span>{formatCount(max)}</span>
            <span>{formatCount(max / 2)}</span>
            <span>0</span>
          </div>
          <svg
            className="chart-plot"
            viewBox={`0 0 ${values.length} ${HEIGHT}`}
            preserveAspectRatio="none"
            role="img"
            aria-label={`Cells per second over the last ${minutes} minutes; peak ${formatCount(peak)}, last second ${formatCount(latest)}.`}
            data-testid="throughput-chart"
          >
            <line x1="0" x2={values.length} y1={HEIGHT / 2} y2={HEIGHT / 2} className="chart-grid" vectorEffect="non-scaling-stroke" />
            <path d={area} className="chart-area" />
            <path d={line} className="chart-line" vectorEffect="non-scaling-stroke" />
          </svg>
          <div className="chart-x" aria-hidden="true">
            <span>{minutes} min ago</span>
            <span>now</span>
          </div>
        </div>
      </div>
    </section>
  );
}
