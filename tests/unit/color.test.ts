import { describe, expect, it } from 'vitest';
import { COLOR_PATTERN, randomColor } from '../../lib/color';

describe('randomColor', () => {
  it('gives # and six upper-case hex digits', () => {
    for (let i = 0; i < 10_000; i++) expect(randomColor()).toMatch(COLOR_PATTERN);
  });

  it('spreads over the colour space', () => {
    const colors = Array.from({ length: 5_000 }, randomColor);
    // 5,000 draws from 16.7 million colours: collisions are rare, so nearly all are distinct.
    expect(new Set(colors).size).toBeGreaterThan(4_990);
    // Every leading hex digit shows up, so no channel is stuck.
    expect(new Set(colors.map((c) => c[1])).size).toBe(16);
  });
});
