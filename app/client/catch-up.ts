import { SequenceTracker } from './sequence-tracker';

export interface CatchUpTiming {
  /**
   * How long a gap may stay open before a join asks for what is missing. Most gaps close by
   * themselves within milliseconds (events overtaking each other); one still open after this was
   * lost: shed by a server that found the socket behind, or gone with a connection.
   */
  gapGraceMs: number;
  /**
   * A running batch that has been quiet this long gets a join too: the event that would have shown
   * a gap may itself be the one that was lost (the last cells, the completion).
   */
  quietMs: number;
  /** After a join the server could not answer (not a missing batch), ask again this much later. */
  retryMs: number;
}

export const CATCH_UP_TIMING: Readonly<CatchUpTiming> = Object.freeze({ gapGraceMs: 1_000, quietMs: 4_000, retryMs: 2_000 });

/**
 * When the follower asks its server again. There is one way to catch up — `batch:join`, the first
 * time for the snapshot, afterwards with `afterSeq` for exactly the events after the last one
 * applied — and this decides when it is due: on every (re)connect, when a gap outlives its grace,
 * when a running batch goes quiet, and again a little after a refused join. Never while offline or
 * while a join is on its way (its answer covers everything up to the batch's seq when the server
 * read it). Pure: the caller passes the time, so the rules are tested without timers.
 *
 * Rejoining on every overtaken event instead would loop: the answer ends at the batch's seq when
 * the server read it, events past that one have already arrived, so the next would look like a gap.
 */
export class CatchUp {
  readonly sequence = new SequenceTracker();
  private online = false;
  /** A (re)connect asks at once. */
  private wanted = false;
  private asking = false;
  private refusedAt: number | null = null;
  /** The first number missing, and since when it is. */
  private gap: { missing: number; since: number } | null = null;
  private heardAt: number;
  /** The batch does not exist: nothing more to ask. */
  private over = false;

  constructor(
    now: number,
    private readonly timing: CatchUpTiming = CATCH_UP_TIMING,
  ) {
    this.heardAt = now;
  }

  connected(): void {
    this.online = true;
    this.wanted = true;
    // A join sent on the last connection will never be answered.
    this.asking = false;
  }

  disconnected(): void {
    this.online = false;
    this.asking = false;
  }

  /** An event numbered `seq` arrived and was applied. */
  heard(seq: number, now: number): void {
    this.heardAt = now;
    this.sequence.heard(seq);
    this.watchGap(now);
  }

  /** A join is on its way. */
  asked(): void {
    this.asking = true;
    this.wanted = false;
    this.refusedAt = null;
  }

  /** A join's answer, holding every event up to `seq`, was applied. */
  answered(seq: number, now: number): void {
    this.asking = false;
    this.heardAt = now;
    this.sequence.reached(seq);
    // Events past the answer may already be here and still be overtaken: a new grace starts now.
    this.gap = null;
    this.watchGap(now);
  }

  refused(now: number): void {
    this.asking = false;
    this.refusedAt = now;
  }

  /** The batch is not there (`not_found`): no join will change that. */
  gone(): void {
    this.over = true;
  }

  /** Whether to join now. `running`: the batch has not ended, so a quiet spell may hide lost news. */
  due(now: number, running: boolean): boolean {
    if (this.over || !this.online || this.asking) return false;
    if (this.wanted) return true;
    if (this.refusedAt !== null) return now - this.refusedAt >= this.timing.retryMs;
    if (this.gap && now - this.gap.since >= this.timing.gapGraceMs) return true;
    return running && now - this.heardAt >= this.timing.quietMs;
  }

  private watchGap(now: number): void {
    const missing = this.sequence.missing;
    if (missing === null) this.gap = null;
    else if (this.gap?.missing !== missing) this.gap = { missing, since: now };
  }
}
