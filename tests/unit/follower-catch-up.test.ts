import { describe, expect, it } from 'vitest';
import { CatchUp } from '../../app/client/catch-up';

const TIMING = { gapGraceMs: 1_000, quietMs: 4_000, retryMs: 2_000 };

/** A catch-up connected at time 0 whose first join was answered at `seq`. */
function joined(seq = 0, running = true) {
  const c = new CatchUp(0, TIMING);
  c.connected();
  expect(c.due(0, running)).toBe(true);
  c.asked();
  c.answered(seq, 0);
  return c;
}

describe('CatchUp: when the follower joins again', () => {
  it('joins at once on every connect, never while offline, and never twice at a time', () => {
    const c = new CatchUp(0, TIMING);
    expect(c.due(0, true)).toBe(false);
    c.connected();
    expect(c.due(0, true)).toBe(true);
    c.asked();
    expect(c.due(60_000, true)).toBe(false);
    // The answer went with the connection; the next connect asks again.
    c.disconnected();
    expect(c.due(60_000, true)).toBe(false);
    c.connected();
    expect(c.due(60_000, true)).toBe(true);
  });

  it('lets a gap close by itself for the grace, then joins', () => {
    const c = joined(3);
    c.heard(5, 100);
    expect(c.due(1_099, true)).toBe(false);
    c.heard(4, 500);
    expect(c.sequence.applied).toBe(5);
    expect(c.due(5_000, false)).toBe(false);
    c.heard(7, 6_000);
    expect(c.due(6_999, false)).toBe(false);
    expect(c.due(7_000, false)).toBe(true);
  });

  it('times a gap from when its first missing number changed, and from the last answer', () => {
    const c = joined(1);
    c.heard(3, 0); // 2 missing
    c.heard(2, 800); // 2 in; 4 missing past 5
    c.heard(5, 800);
    expect(c.due(1_500, false)).toBe(false);
    expect(c.due(1_800, false)).toBe(true);
    c.asked();
    // The answer ends where the server read the batch; 7 overtook 6 on the way, not lost.
    c.answered(5, 2_000);
    c.heard(7, 2_000);
    expect(c.due(2_500, false)).toBe(false);
    c.heard(6, 2_100);
    expect(c.due(10_000, false)).toBe(false);
  });

  it('asks a running batch that went quiet (its last news may be what was lost), not an ended one', () => {
    const c = joined(2);
    c.heard(3, 1_000);
    expect(c.due(4_999, true)).toBe(false);
    expect(c.due(5_000, true)).toBe(true);
    expect(c.due(60_000, false)).toBe(false);
  });

  it('tries a refused join again after a while, and stops for a batch that is not there', () => {
    const c = new CatchUp(0, TIMING);
    c.connected();
    c.asked();
    c.refused(100);
    expect(c.due(2_099, false)).toBe(false);
    expect(c.due(2_100, false)).toBe(true);
    c.asked();
    c.gone();
    c.connected();
    expect(c.due(100_000, true)).toBe(false);
  });
});
