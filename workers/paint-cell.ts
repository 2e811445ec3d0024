import { setTimeout as sleep } from 'node:timers/promises';
import { randomColor } from '../lib/color';
import type { FaultPlan } from '../lib/faults';
import type { CellJobData } from '../lib/queue/cell-job';

/**
 * The work one cell job stands for: pick its colour. With a test fault plan, chosen cells throw,
 * hang or dawdle, so the fault tests can exercise retries, dead letters and timeouts.
 */
export async function paintCell(cell: CellJobData, attempt: number, signal: AbortSignal, faults: FaultPlan | null): Promise<string> {
  if (faults) {
    const key = `${cell.row},${cell.col}`;
    if (faults.throwAlways.includes(key)) throw new Error(`cell (${key}) is poisoned: it fails on every attempt`);
    if (attempt === 0 && faults.throwOnce.includes(key)) throw new Error(`cell (${key}) fails on its first attempt`);
    // Ignores its signal on purpose: the worker must give up on it by itself.
    if (attempt === 0 && faults.hangOnce.includes(key)) await new Promise<never>(() => undefined);
    if (faults.delayMs > 0) await sleep(faults.delayMs, undefined, { signal });
  }
  return randomColor();
}
