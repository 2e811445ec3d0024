'use client';

import type { CellStore } from '../client/cell-store';
import { formatCount } from '../client/format';
import { hexOf, workerRgb } from '../client/worker-palette';
import { UNKNOWN_WORKER } from '../client/worker-tally';

const byName = new Intl.Collator('en', { numeric: true });

/**
 * Worker → colour, and how many cells each finished: the fan-out made visible. Re-rendered when
 * `finished` or `attributed` move (the counts live in the store, outside React).
 */
export function WorkerLegend({
  store,
  finished,
  attributed,
  failed,
}: {
  store: CellStore;
  finished: number;
  attributed: number;
  failed: number;
}) {
  const { workers } = store;
  const entries = workers.names
    .map((name, k) => ({ name, slot: k + 1, count: workers.counts[k] }))
    .filter((entry) => entry.count > 0)
    .sort((a, b) => byName.compare(a.name, b.name));
  const unknown = finished - attributed;
  if (unknown > 0) entries.push({ name: '', slot: UNKNOWN_WORKER, count: unknown });

  return (
    <section className="worker-legend" aria-label="Cells by worker" data-testid="worker-legend">
      {entries.length === 0 ? (
        <p className="muted">No cell finished yet.</p>
      ) : (
        <ul>
          {entries.map(({ name, slot, count }) => {
            const color = hexOf(workerRgb(slot));
            return (
              <li key={slot} data-worker={name} data-color={color} data-count={count}>
                <span className="swatch" style={{ background: color }} aria-hidden="true" />
                {name ? <code>{name}</code> : <span>worker not known</span>}
                <span className="count">{formatCount(count)} cells</span>
              </li>
            );
          })}
        </ul>
      )}
      {failed > 0 && <p className="muted">{formatCount(failed)} failed cells keep their crossed-out look.</p>}
    </section>
  );
}
