import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../../app/client/sequence-tracker';

describe('SequenceTracker: where the follower stands in its batch’s events', () => {
  it('moves through numbers heard in order, and has no gap', () => {
    const seq = new SequenceTracker();
    for (const n of [1, 2, 3]) seq.heard(n);
    expect(seq.applied).toBe(3);
    expect(seq.missing).toBeNull();
  });

  it('holds a number that overtook another, names the one missing, and moves on once it comes', () => {
    const seq = new SequenceTracker();
    seq.heard(1);
    seq.heard(3);
    seq.heard(4);
    expect(seq.applied).toBe(1);
    expect(seq.missing).toBe(2);
    seq.heard(2);
    expect(seq.applied).toBe(4);
    expect(seq.missing).toBeNull();
  });

  it('a join answer covers everything up to its number, and numbers held past it follow on', () => {
    const seq = new SequenceTracker();
    seq.heard(5);
    seq.heard(9);
    seq.reached(7);
    expect(seq.applied).toBe(7);
    expect(seq.missing).toBe(8);
    seq.heard(8);
    expect(seq.applied).toBe(9);
    expect(seq.missing).toBeNull();
  });

  it('ignores numbers already applied (a replayed event, an older answer) and answers that are not numbers', () => {
    const seq = new SequenceTracker();
    seq.reached(10);
    seq.heard(4);
    seq.reached(6);
    seq.reached(Number.NaN);
    expect(seq.applied).toBe(10);
    expect(seq.missing).toBeNull();
  });
});
