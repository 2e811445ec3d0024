import { describe, expect, it } from 'vitest';
import { ImageCheck } from '../../app/client/image-check';

describe('ImageCheck: when to ask for an ended batch’s image that was not announced', () => {
  it('first waits, then asks at growing intervals up to a ceiling', () => {
    const check = new ImageCheck({ firstMs: 5_000, maxMs: 12_000 });
    expect(check.due(0)).toBe(false);
    expect(check.due(4_999)).toBe(false);
    expect(check.due(5_000)).toBe(true);
    expect(check.due(9_999)).toBe(false);
    expect(check.due(10_000)).toBe(true);
    expect(check.due(19_999)).toBe(false);
    expect(check.due(20_000)).toBe(true);
    expect(check.due(31_999)).toBe(false);
    expect(check.due(32_000)).toBe(true);
  });
});
