/**
 * Where the follower stands in its batch's sequence (`seq` on every batch event, see
 * lib/realtime/events.ts): every event numbered up to `applied` is in the store. Events can overtake
 * each other on the way (the Postgres adapter fetches each large payload with a query of its own),
 * so a number past `applied + 1` waits here until the ones before it come; until then `missing`
 * names the first one not heard — a gap.
 */
export class SequenceTracker {
  private last = 0;
  private readonly ahead = new Set<number>();

  /** Every event up to this number is applied. */
  get applied(): number {
    return this.last;
  }

  /** The first number not heard below one that was, or null when nothing is missing. */
  get missing(): number | null {
    return this.ahead.size > 0 ? this.last + 1 : null;
  }

  /** The event numbered `seq` was applied. */
  heard(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= this.last) return;
    this.ahead.add(seq);
    this.advance();
  }

  /** A join answer holds every event up to `seq`. */
  reached(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= this.last) return;
    this.last = seq;
    this.advance();
  }

  private advance(): void {
    for (const seq of this.ahead) if (seq <= this.last) this.ahead.delete(seq);
    while (this.ahead.delete(this.last + 1)) this.last++;
  }
}
