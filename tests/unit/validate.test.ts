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
    expect(parseBatchInput({ rows: 2, cols: 2, priority: 100, deadlineSeconds: 60 }, 100)).toEqual({
      rows: 2,
      cols: 2,
      priority: 100,
      deadlineSeconds: 60,
    });
    for (const bad of [-1, 101, 2.5, '5', null, true, 1e308, [1], { n: 1 }]) {
      expect(codeOf(() => parseBatchInput({ rows: 2, cols: 2, priority: bad }, 100))).toBe('invalid_input');
    }
    expect(() => parseBatchInput({ rows: 2, cols: 2, priority: 101 }, 100)).toThrow(
      /"priority" must be an integer from 0 \(the default\) to 100/,
    );
  });

  it('writes messages a person can act on', () => {
    expect(() => parseBatchInput({ rows: 0, cols: 5 }, 100)).toThrow(/"rows" must be an integer from 1 to 1000/);
    expect(() => parseBatchInput({ rows: 5, cols: 5, x: 1 }, 100)).toThrow(/Unknown field: "x"/);
  });
});

describe('parseBatchInput: pictures and simulated work', () => {
  const picture = (extra: Record<string, unknown>) => ({ rows: 4, cols: 4, kind: 'mandelbrot', ...extra });

  it("fills in the contract's picture defaults: the whole set, 500 iterations, 32-pixel tiles", () => {
    expect(parseBatchInput(picture({}), 1_000_000)).toEqual({
      rows: 4,
      cols: 4,
      kind: 'mandelbrot',
      view: { x: -0.75, y: 0, width: 3.5 },
      maxIterations: 500,
      tileSize: 32,
    });
    expect(
      parseBatchInput(picture({ view: { x: 0.3, y: -0.02, width: 1e-13 }, maxIterations: 100_000, tileSize: 4 }), 1_000_000),
    ).toMatchObject({
      view: { x: 0.3, y: -0.02, width: 1e-13 },
      maxIterations: 100_000,
      tileSize: 4,
    });
    expect(parseBatchInput({ rows: 2, cols: 2, kind: 'colors' }, 100)).toEqual({ rows: 2, cols: 2, kind: 'colors' });
  });

  it.each([
    ['an unknown kind', { kind: 'julia' }],
    ['a kind of the wrong type', { kind: 1 }],
    ['a view that is not an object', { view: [0, 0, 1] }],
    ['a view as a string', { view: '-0.75,0,3.5' }],
    ['a view with NaN (as null from JSON)', { view: { x: null, y: 0, width: 1 } }],
    ['a view with a string number', { view: { x: '0', y: 0, width: 1 } }],
    ['a view centre beyond 4', { view: { x: 4.0001, y: 0, width: 1 } }],
    ['a view centre below -4', { view: { x: 0, y: -5, width: 1 } }],
    ['a huge width', { view: { x: 0, y: 0, width: 8.5 } }],
    ['a tiny width', { view: { x: 0, y: 0, width: 1e-14 } }],
    ['a zero width', { view: { x: 0, y: 0, width: 0 } }],
    ['a negative width', { view: { x: 0, y: 0, width: -1 } }],
    ['an infinite width (1e999 parses to Infinity)', { view: { x: 0, y: 0, width: JSON.parse('1e999') } }],
    ['a view missing its width', { view: { x: 0, y: 0 } }],
    ['a view with an extra field', { view: { x: 0, y: 0, width: 1, zoom: 2 } }],
    ['zero iterations', { maxIterations: 0 }],
    ['too many iterations', { maxIterations: 100_001 }],
    ['fractional iterations', { maxIterations: 10.5 }],
    ['iterations as a string', { maxIterations: '500' }],
    ['a tile too small', { tileSize: 3 }],
    ['a tile too large', { tileSize: 65 }],
    ['a fractional tile', { tileSize: 8.5 }],
    ['workMs on a picture', { workMs: 10 }],
  ])('rejects a picture with %s as invalid_input', (_name, extra) => {
    expect(codeOf(() => parseBatchInput(picture(extra), 1_000_000))).toBe('invalid_input');
  });

  it('rejects NaN and Infinity given directly (a caller other than JSON)', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(codeOf(() => parseBatchInput(picture({ view: { x: bad, y: 0, width: 1 } }), 1_000_000))).toBe('invalid_input');
      expect(codeOf(() => parseBatchInput(picture({ view: { x: 0, y: 0, width: bad } }), 1_000_000))).toBe('invalid_input');
    }
  });

  it('rejects a picture above the pixel cap with too_many_pixels, and says what to change', () => {
    // 128 × 128 tiles of 32 px is exactly 16,777,216 pixels: the default cap.
    expect(codeOf(() => parseBatchInput({ rows: 128, cols: 128, kind: 'mandelbrot' }, 1_000_000))).toBe('accepted');
    expect(codeOf(() => parseBatchInput({ rows: 129, cols: 128, kind: 'mandelbrot' }, 1_000_000))).toBe('too_many_pixels');
    expect(codeOf(() => parseBatchInput({ rows: 1000, cols: 1000, kind: 'mandelbrot', tileSize: 64 }, 1_000_000))).toBe('too_many_pixels');
    expect(codeOf(() => parseBatchInput({ rows: 10, cols: 10, kind: 'mandelbrot', tileSize: 10 }, 1_000_000, 9_999))).toBe(
      'too_many_pixels',
    );
    expect(() => parseBatchInput({ rows: 200, cols: 200, kind: 'mandelbrot' }, 1_000_000)).toThrow(
      /6400 × 6400 is 40960000 pixels.*"tileSize"/,
    );
  });

  it('keeps picture fields off colour batches, and takes workMs from 0 to 5000 there', () => {
    for (const extra of [{ view: { x: 0, y: 0, width: 1 } }, { maxIterations: 10 }, { tileSize: 8 }]) {
      expect(codeOf(() => parseBatchInput({ rows: 2, cols: 2, ...extra }, 100))).toBe('invalid_input');
    }
    expect(parseBatchInput({ rows: 2, cols: 2, workMs: 0 }, 100)).toEqual({ rows: 2, cols: 2, workMs: 0 });
    expect(parseBatchInput({ rows: 2, cols: 2, workMs: 5000 }, 100)).toEqual({ rows: 2, cols: 2, workMs: 5000 });
    for (const bad of [-1, 5001, 2.5, '100', null, true, 1e308, Number.NaN]) {
      expect(codeOf(() => parseBatchInput({ rows: 2, cols: 2, workMs: bad }, 100))).toBe('invalid_input');
    }
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
