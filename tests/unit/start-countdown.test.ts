import { describe, expect, it } from 'vitest';
import { formatCountdown } from '../../app/components/StartCountdown';

describe('the countdown of a scheduled batch', () => {
  it('shows minutes and seconds, hours past an hour, rounding up so it never shows 0:00 early', () => {
    expect(formatCountdown(42_000)).toBe('0:42');
    expect(formatCountdown(41_001)).toBe('0:42');
    expect(formatCountdown(65_000)).toBe('1:05');
    expect(formatCountdown(3_900_000)).toBe('1:05:00');
    expect(formatCountdown(7 * 24 * 3600_000)).toBe('168:00:00');
  });

  it('never goes negative', () => {
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(-5_000)).toBe('0:00');
  });
});
