import { setTimeout as sleep } from 'node:timers/promises';
import { randomColor } from '../lib/color';
import type { FaultPlan } from '../lib/faults';
import type { CellJobData } from '../lib/queue/cell-job';

/**
 * The work one colour cell job stands for: pick its colour, after the batch's simulated work
 * (`workMs`, which the cell's signal cuts short). With a test fault plan, chosen cells throw, hang or
 * dawdle, so the fault tests can exercise retries, dead letters and timeouts.
 */
export async function paintCell(
  cell: CellJobData,
  attempt: number,
  signal: AbortSignal,
  faults: FaultPlan | null,
  workMs = 0,
): Promise<string> {
  if (faults) {
    const key = `${cell.row},${cell.col}`;
    if (faults.throwAlways.includes(key)) throw new Error(`cell (${key}) is poisoned: it fails on every attempt`);
    if (attempt === 0 && faults.throwOnce.includes(key)) throw new Error(`cell (${key}) fails on its first attempt`);
    // Ignores its signal on purpose: the worker must give up on it by itself.
    if (attempt === 0 && faults.hangOnce.includes(key)) await new Promise<never>(() => undefined);
    if (faults.delayMs > 0) await sleep(faults.delayMs, undefined, { signal });
  }
  if (workMs > 0) await sleep(workMs, undefined, { signal });
  return randomColor();
}
