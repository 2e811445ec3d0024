/**
 * What changed since the canvas last drew, for a store of `size` slots: a list of slot indices, or
 * null for "everything". Past `size / fullAfter` entries the list gives way to null: a hidden tab
 * gets no animation frames, and one full pass is then cheaper than a long list.
 */
export class DirtyList {
  private dirty: number[] | null;

  constructor(
    private readonly size: number,
    private readonly fullAfter: number,
    startFull: boolean,
  ) {
    this.dirty = startFull ? null : [];
  }

  mark(i: number): void {
    if (!this.dirty) return;
    if (this.dirty.length > this.size / this.fullAfter) this.dirty = null;
    else this.dirty.push(i);
  }

  /** What changed since the last take: a list of indices, null for all, or 'none'. */
  take(): number[] | null | 'none' {
    const dirty = this.dirty;
    if (dirty && dirty.length === 0) return 'none';
    this.dirty = [];
    return dirty;
  }

  /** The next take returns "everything". */
  invalidate(): void {
    this.dirty = null;
  }
}
