import type { CellWorkers } from '@/lib/types';

/** A cell finished by a worker nobody named (an old server, a cell not yet attributed). */
export const UNKNOWN_WORKER = 0;
/** Slots are 16-bit: 65,535 named workers per batch, far past any fleet; later names count as unknown. */
const MAX_SLOT = 0xffff;

/**
 * Which worker recorded each finished cell of a batch, beside CellStore's colours: one 16-bit slot per cell
 * (2 MB for a million cells) holding 1 + the worker's index in `names`, or UNKNOWN_WORKER. Names
 * get their slot in the order this page first hears them; counts go with them.
 */
export class WorkerTally {
  readonly of: Uint16Array;
  /** `names[slot - 1]` is the worker in that slot. */
  readonly names: string[] = [];
  /** `counts[slot - 1]` cells are attributed to that worker. */
  readonly counts: number[] = [];
  /** Cells whose worker is known. */
  attributed = 0;
  private readonly slots = new Map<string, number>();

  constructor(cellCount: number) {
    this.of = new Uint16Array(cellCount);
  }

  /** The slot of a worker's name, taking the next free one for a new name. */
  slot(name: unknown): number {
    if (typeof name !== 'string' || name === '') return UNKNOWN_WORKER;
    let slot = this.slots.get(name);
    if (slot === undefined) {
      if (this.names.length >= MAX_SLOT) return UNKNOWN_WORKER;
      this.names.push(name);
      this.counts.push(0);
      slot = this.names.length;
      this.slots.set(name, slot);
    }
    return slot;
  }

  /**
   * For each entry of a list that came with CellWorkers, its slot: a lookup per distinct name, not
   * per cell. Null when the list says nothing usable (a server without the extension).
   */
  slotsOf(by: Partial<CellWorkers>, cellCount: number): { slots: number[]; cellWorkers: number[] } | null {
    const { workers, cellWorkers } = by;
    if (!Array.isArray(workers) || !Array.isArray(cellWorkers) || cellWorkers.length !== cellCount) return null;
    return { slots: workers.map((name) => this.slot(name)), cellWorkers };
  }

  /** Attributes cell i to a slot unless it already has one; true when it changed. */
  assign(i: number, slot: number): boolean {
    if (slot === UNKNOWN_WORKER || this.of[i] !== UNKNOWN_WORKER) return false;
    this.of[i] = slot;
    this.counts[slot - 1]++;
    this.attributed++;
    return true;
  }

  nameOf(i: number): string | null {
    const slot = this.of[i];
    return slot === UNKNOWN_WORKER ? null : this.names[slot - 1];
  }
}
