import type pg from 'pg';
import { addThroughputSamples, type ThroughputSample } from '../lib/db/throughput';
import { errorMessage } from '../lib/errors';
import { every } from '../lib/lifecycle';
import type { Logger } from '../lib/log';

/** Samples that could not be written are kept this long, then dropped: the chart spans 5 minutes. */
const KEEP_UNWRITTEN_MS = 5 * 60_000;

/**
 * Cells this worker served, per second of its clock, until they are written. Workers on several
 * hosts are assumed to keep their clocks in sync (NTP), as for any per-second chart.
 */
export class ThroughputMeter {
  private readonly pending = new Map<number, number>();

  add(cells: number, nowMs = Date.now()): void {
    if (cells <= 0) return;
    const second = Math.floor(nowMs / 1000);
    this.pending.set(second, (this.pending.get(second) ?? 0) + cells);
  }

  /** Everything counted so far, oldest first; the meter starts again from nothing. */
  take(): ThroughputSample[] {
    const samples = [...this.pending].sort(([a], [b]) => a - b).map(([second, cells]) => ({ second, cells }));
    this.pending.clear();
    return samples;
  }

  /** Puts back samples whose write failed, minus those too old to be charted any more. */
  giveBack(samples: ThroughputSample[], nowMs = Date.now()): void {
    const oldest = Math.floor((nowMs - KEEP_UNWRITTEN_MS) / 1000);
    for (const { second, cells } of samples) if (second >= oldest) this.add(cells, second * 1000);
  }
}

/** Writes the meter's samples every second (only seconds with work), and once more on stop. */
export function startThroughputWriter(
  pool: pg.Pool,
  workerId: string,
  meter: ThroughputMeter,
  log: Logger,
  intervalMs = 1000,
): () => Promise<void> {
  const flush = async () => {
    const samples = meter.take();
    try {
      await addThroughputSamples(pool, workerId, samples);
    } catch (err) {
      meter.giveBack(samples);
      log.debug('throughput samples not written; trying again', { err: errorMessage(err) });
    }
  };
  const stop = every(intervalMs, flush);
  return async () => {
    await stop();
    await flush();
  };
}
