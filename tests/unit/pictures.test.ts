import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLOR_PATTERN } from '../../lib/color';
import {
  BENCH_PARAMS,
  BENCH_VIEW,
  NAMED_VIEWS,
  VIEW_LIMITS,
  escapeTime,
  meanColor,
  pixelToComplex,
  renderTile,
  zoomView,
  type NamedView,
  type PictureParams,
} from '../../lib/pictures/mandelbrot';
import { encodePng } from '../../lib/pictures/png';

/** The contract's default view on a 2×2 grid of 4-pixel tiles: W = H = 8, s = 3.5 / 8 = 0.4375. */
const tiny: PictureParams = { view: { x: -0.75, y: 0, width: 3.5 }, maxIterations: 500, tileSize: 4, rows: 2, cols: 2 };

describe('pixelToComplex', () => {
  it('samples pixel centres, top row at the top', () => {
    // px + 0.5 − W/2 = −3.5 → re = −0.75 − 3.5·0.4375 = −2.28125; im = 0 + 3.5·0.4375 = 1.53125.
    expect(pixelToComplex(tiny, 0, 0)).toEqual({ re: -2.28125, im: 1.53125 });
    // The opposite corner: +3.5 pixels from the centre each way.
    expect(pixelToComplex(tiny, 7, 7)).toEqual({ re: 0.78125, im: -1.53125 });
    // Just right of and above the centre: ±0.5 pixel → re = −0.75 + 0.21875, im = +0.21875.
    expect(pixelToComplex(tiny, 4, 3)).toEqual({ re: -0.53125, im: 0.21875 });
  });

  it('uses the width for both axes of a wide image', () => {
    // 2 tiles across, 1 down: W = 8, H = 4, s = 0.4375; row 0 is 1.5 pixels above the centre.
    const wide = { ...tiny, rows: 1 };
    expect(pixelToComplex(wide, 0, 0)).toEqual({ re: -2.28125, im: 0.65625 });
    expect(pixelToComplex(wide, 7, 3)).toEqual({ re: 0.78125, im: -0.65625 });
  });
});

describe('escapeTime', () => {
  it('keeps the orbits that stay bounded', () => {
    expect(escapeTime(0, 0, 1000)).toBe(-1); // 0, 0, 0, …
    expect(escapeTime(-1, 0, 1000)).toBe(-1); // 0, −1, 0, −1, …
    expect(escapeTime(0, 1, 1000)).toBe(-1); // i, −1+i, −i, −1+i, −i, …
    // 2, 2, 2, …: |z| = 2 exactly is not an escape (the contract says |z| stays ≤ 2).
    expect(escapeTime(-2, 0, 1000)).toBe(-1);
    expect(escapeTime(0.25, 0, 10_000)).toBe(-1); // the cusp: z creeps up to ½ and never passes it
    // On the main cardioid's edge (q = (x−¼)² + y² = ¼, q·(q + x − ¼) = 1/16 = y²/4).
    expect(escapeTime(0.25, 0.5, 10_000)).toBe(-1);
  });

  it('counts the step after which |z|² first exceeds 4', () => {
    expect(escapeTime(1, 0, 100)).toBe(3); // 1, 2 (|z|² = 4, not > 4), 5
    expect(escapeTime(2, 0, 100)).toBe(2); // 2, 6
    expect(escapeTime(1, 1, 100)).toBe(2); // 1+i (2), 1+3i (10)
    // 0.5, 0.75, 1.0625, 1.62890625 (|z|² ≈ 2.65), ≈3.1533 (|z|² ≈ 9.94).
    expect(escapeTime(0.5, 0, 100)).toBe(5);
    expect(escapeTime(3, 4, 100)).toBe(1); // |c|² = 25
    expect(escapeTime(0.26, 0, 10_000)).toBeGreaterThan(0); // just past the cusp
  });

  it('needs all maxIterations steps to stay bounded', () => {
    expect(escapeTime(0.5, 0, 4)).toBe(-1);
    expect(escapeTime(0.5, 0, 5)).toBe(5);
    expect(escapeTime(1, 0, 2)).toBe(-1);
  });
});

describe('renderTile', () => {
  const params: PictureParams = { view: { x: -0.75, y: 0, width: 3.5 }, maxIterations: 500, tileSize: 8, rows: 8, cols: 8 };

  /** Every pixel of every tile against the contract's naive definition; inside pixel count. */
  function checkAgainstContract(p: PictureParams): number {
    const T = p.tileSize;
    let inside = 0;
    for (let row = 0; row < p.rows; row++) {
      for (let col = 0; col < p.cols; col++) {
        const rgb = renderTile(p, row, col);
        expect(rgb.length).toBe(T * T * 3);
        for (let j = 0; j < T; j++) {
          for (let i = 0; i < T; i++) {
            const { re, im } = pixelToComplex(p, col * T + i, row * T + j);
            const o = (j * T + i) * 3;
            const black = rgb[o] === 0 && rgb[o + 1] === 0 && rgb[o + 2] === 0;
            expect(black, `pixel (${col * T + i}, ${row * T + j})`).toBe(escapeTime(re, im, p.maxIterations) === -1);
            if (black) inside++;
          }
        }
      }
    }
    return inside;
  }

  it("paints exactly the contract's inside pixels black, and no other pixel", () => {
    const inside = checkAgainstContract(params);
    // Both kinds are really there: the set covers roughly a tenth of this view.
    expect(inside).toBeGreaterThan(300);
    expect(inside).toBeLessThan(1000);
  });

  it('does so for odd tile sizes and non-square grids too (pixels are rendered in pairs)', () => {
    expect(checkAgainstContract({ ...params, tileSize: 5, rows: 3, cols: 4 })).toBeGreaterThan(0);
    expect(
      checkAgainstContract({ view: { x: -0.7453, y: 0.1127, width: 0.01 }, maxIterations: 1000, tileSize: 7, rows: 2, cols: 3 }),
    ).toBeGreaterThan(0);
  });

  it('gives the same bytes every time', () => {
    for (const [row, col] of [
      [0, 0],
      [3, 2],
      [4, 5],
    ]) {
      expect(Buffer.from(renderTile(params, row, col)).equals(Buffer.from(renderTile(params, row, col)))).toBe(true);
    }
  });

  it('shades the outside smoothly: many more colours than escape counts', () => {
    const whole = { ...params, tileSize: 64, rows: 1, cols: 1 };
    const rgb = renderTile(whole, 0, 0);
    const colors = new Set<number>();
    const counts = new Set<number>();
    for (let p = 0; p < 64 * 64; p++) {
      colors.add((rgb[p * 3] << 16) | (rgb[p * 3 + 1] << 8) | rgb[p * 3 + 2]);
      const { re, im } = pixelToComplex(whole, p % 64, Math.floor(p / 64));
      counts.add(escapeTime(re, im, whole.maxIterations));
    }
    // Banded colouring would give one colour per count.
    expect(colors.size).toBeGreaterThan(3 * counts.size);
  });
});

describe('meanColor', () => {
  it('averages each channel and rounds', () => {
    expect(meanColor(Uint8Array.of(10, 20, 30))).toBe('#0A141E');
    // (0 + 255) / 2 = 127.5 → 128; (0 + 1) / 2 = 0.5 → 1 (Math.round rounds halves up).
    expect(meanColor(Uint8Array.of(0, 0, 0, 255, 255, 1))).toBe('#808001');
    // 1/3 → 0 and 2/3 → 1.
    expect(meanColor(Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0, 0))).toBe('#000100');
    expect(meanColor(new Uint8Array(4 * 4 * 3).fill(255))).toBe('#FFFFFF');
    expect(meanColor(renderTile(tiny, 1, 0))).toMatch(COLOR_PATTERN);
  });
});

describe('zoomView', () => {
  it('centres on the pixel and narrows the view', () => {
    expect(zoomView(tiny, 4, 3)).toEqual({ x: -0.53125, y: 0.21875, width: 0.875 });
    expect(zoomView(tiny, 4, 3, 2)).toEqual({ x: -0.53125, y: 0.21875, width: 1.75 });
  });

  it("clamps to the contract's limits", () => {
    const edge: PictureParams = { ...tiny, view: { x: 3.9, y: -3.9, width: 8 } };
    // Pixel (7, 7) is 3.5 pixels of 1 from the centre: 7.4 − 7.4i, clamped to 4 − 4i.
    expect(zoomView(edge, 7, 7)).toEqual({ x: 4, y: -4, width: 2 });
    expect(zoomView(edge, 0, 0, 0.25).width).toBe(8);
    expect(zoomView({ ...tiny, view: { x: 0, y: 0, width: 2e-13 } }, 4, 4).width).toBe(VIEW_LIMITS.minWidth);
  });
});

describe('named views', () => {
  const all: NamedView[] = [...NAMED_VIEWS, BENCH_VIEW];

  it("are within the contract's limits, with distinct ids", () => {
    for (const { id, view, maxIterations } of all) {
      expect(Math.abs(view.x), id).toBeLessThanOrEqual(VIEW_LIMITS.maxAbsCenter);
      expect(Math.abs(view.y), id).toBeLessThanOrEqual(VIEW_LIMITS.maxAbsCenter);
      expect(view.width, id).toBeGreaterThanOrEqual(VIEW_LIMITS.minWidth);
      expect(view.width, id).toBeLessThanOrEqual(VIEW_LIMITS.maxWidth);
      expect(
        Number.isInteger(maxIterations) && maxIterations >= VIEW_LIMITS.minIterations && maxIterations <= VIEW_LIMITS.maxIterations,
        id,
      ).toBe(true);
    }
    expect(new Set(all.map((v) => v.id)).size).toBe(all.length);
    expect(NAMED_VIEWS[0]).toMatchObject({ id: 'whole', view: { x: -0.75, y: 0, width: 3.5 }, maxIterations: 500 });
    expect(BENCH_PARAMS).toMatchObject({ view: BENCH_VIEW.view, maxIterations: 2000, tileSize: 32, rows: 64, cols: 64 });
  });

  // Also leaves a 512 × 512 render of each in test-results/pictures/, for a person to look at.
  it('each show structure, not a flat blob', async () => {
    const dir = path.join(process.cwd(), 'test-results', 'pictures');
    mkdirSync(dir, { recursive: true });
    const grid = 16;
    const tile = 32;
    const side = grid * tile;
    for (const { id, view, maxIterations } of all) {
      const params: PictureParams = { view, maxIterations, tileSize: tile, rows: grid, cols: grid };
      const rgba = new Uint8Array(side * side * 4);
      const colors = new Set<number>();
      for (let row = 0; row < grid; row++) {
        for (let col = 0; col < grid; col++) {
          const rgb = renderTile(params, row, col);
          for (let p = 0; p < tile * tile; p++) {
            const o = ((row * tile + Math.floor(p / tile)) * side + col * tile + (p % tile)) * 4;
            rgba.set(rgb.subarray(p * 3, p * 3 + 3), o);
            rgba[o + 3] = 255;
            colors.add((rgb[p * 3] << 16) | (rgb[p * 3 + 1] << 8) | rgb[p * 3 + 2]);
          }
        }
      }
      expect(colors.size, id).toBeGreaterThan(1000);
      writeFileSync(path.join(dir, `${id}.png`), await encodePng(side, side, rgba));
    }
  });
});
