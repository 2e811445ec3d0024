import { describe, expect, it } from 'vitest';
import { isBatchId, parseBatchInput, parseListLimit } from '../../lib/batches/validate';
import { PublicError } from '../../lib/errors';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof PublicError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('parseBatchInput', () => {
  it('accepts integer rows and cols from 1 to 1000', () => {
    expect(parseBatchInput({ rows: 20, cols: 30 }, 1_000_000)).toEqual({ rows: 20, cols: 30 });
    expect(parseBatchInput({ rows: 1, cols: 1 }, 1_000_000)).toEqual({ rows: 1, cols: 1 });
    expect(parseBatchInput({ rows: 1000, cols: 1000 }, 1_000_000)).toEqual({ rows: 1000, cols: 1000 });
  });

  it.each([
    ['missing rows', { cols: 5 }],
    ['missing cols', { rows: 5 }],
    ['zero', { rows: 0, cols: 5 }],
    ['negative', { rows: -1, cols: 5 }],
    ['above 1000', { rows: 1001, cols: 1 }],
    ['fraction', { rows: 2.5, cols: 5 }],
    ['string number', { rows: '5', cols: 5 }],
    ['null', { rows: null, cols: 5 }],
    ['boolean', { rows: true, cols: 5 }],
    ['NaN-like huge', { rows: 1e308, cols: 5 }],
    ['unknown field', { rows: 5, cols: 5, color: 'red' }],
    ['prototype key', JSON.parse('{"rows": 5, "cols": 5, "__proto__": {"admin": true}}')],
    ['array body', [5, 5]],
    ['string body', 'rows=5'],
    ['null body', null],
  ])('rejects %s with invalid_input', (_name, body) => {
    expect(codeOf(() => parseBatchInput(body, 1_000_000))).toBe('invalid_input');
  });

  it('rejects grids above the cell cap with too_many_cells', () => {
    expect(codeOf(() => parseBatchInput({ rows: 100, cols: 100 }, 9_999))).toBe('too_many_cells');
    expect(codeOf(() => parseBatchInput({ rows: 100, cols: 100 }, 10_000))).toBe('accepted');
  });

  it('takes an optional priority from 0 to 100', () => {
    expect(parseBatchInput({ rows: 2, cols: 2, priority: 0 }, 100)).toEqual({ rows: 2, cols: 2, priority: 0 });
    expect(parseBatchInput({ rows: 2, cols: 2, priority: 100, deadlineSeconds: 60 }, 100)).toEqual({ rows: 2, cols: 2, priority: 100, deadlineSeconds: 60 });
    for (const bad of [-1, 101, 2.5, '5', null, true, 1e308, [1], { n: 1 }]) {
      expect(codeOf(() => parseBatchInput({ rows: 2, cols: 2, priority: bad }, 100))).toBe('invalid_input');
    }
    expect(() => parseBatchInput({ rows: 2, cols: 2, priority: 101 }, 100)).toThrow(/"priority" must be an integer from 0 \(the default\) to 100/);
  });

  it('writes messages a person can act on', () => {
    expect(() => parseBatchInput({ rows: 0, cols: 5 }, 100)).toThrow(/"rows" must be an integer from 1 to 1000/);
    expect(() => parseBatchInput({ rows: 5, cols: 5, x: 1 }, 100)).toThrow(/Unknown field: "x"/);
  });
});

describe('isBatchId and parseListLimit', () => {
  it('knows a UUID from anything else', () => {
    expect(isBatchId('3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61')).toBe(true);
    for (const bad of ['', 'abc', "1' or '1'='1", '3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a6', 'x'.repeat(10_000), 42, null]) {
      expect(isBatchId(bad)).toBe(false);
    }
  });

  it('takes limits from 1 to 100, default 20', () => {
    expect(parseListLimit(null)).toBe(20);
    expect(parseListLimit('1')).toBe(1);
    expect(parseListLimit('100')).toBe(100);
    for (const bad of ['0', '101', '-1', '2.5', 'abc', '', '1e2']) {
      expect(codeOf(() => parseListLimit(bad))).toBe('invalid_input');
    }
  });
});
