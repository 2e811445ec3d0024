/**
 * Fault injection for the fault tests: which cells misbehave, and how. Only a test configuration
 * (NODE_ENV=test with FINISH_LINE_FAULTS) turns it on; `npm start` runs its processes with
 * NODE_ENV=production, where config refuses the variable.
 */
export interface FaultPlan {
  /** Cells, as "row,col", that throw on their first attempt and succeed after. */
  throwOnce: string[];
  /** Cells that throw on every attempt (poison). */
  throwAlways: string[];
  /** Cells whose first attempt hangs forever, ignoring its abort signal. */
  hangOnce: string[];
  /** Every cell takes this long (ms), honouring its abort signal: keeps a batch in flight for a test. */
  delayMs: number;
  /** The image stage waits this long (ms) after each grid row: keeps a stitch in progress for a test. */
  stitchRowDelayMs: number;
}

export function parseFaultPlan(raw: string): FaultPlan {
  const value = JSON.parse(raw) as Partial<FaultPlan>;
  const cells = (list: unknown) => (Array.isArray(list) ? list.map(String) : []);
  return {
    throwOnce: cells(value.throwOnce),
    throwAlways: cells(value.throwAlways),
    hangOnce: cells(value.hangOnce),
    delayMs: Number(value.delayMs) || 0,
    stitchRowDelayMs: Number(value.stitchRowDelayMs) || 0,
  };
}
