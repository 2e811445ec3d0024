/**
 * The Mandelbrot picture: which point of the complex plane each pixel samples, whether it escapes,
 * and what colour it gets. Pure arithmetic with no Node imports, because the browser bundle uses
 * it too (to zoom, and to draw tiles it is sent).
 *
 * The geometry and the inside/outside rule are fixed by the public contract (CONTRACT.md,
 * "Pictures"); a checker recomputes them, so the floating-point operations here are written in
 * the contract's order and must not be "simplified" — a reordered expression gives different
 * doubles and, on the boundary, a different classification.
 */

export interface View {
  /** Centre, real part. */
  x: number;
  /** Centre, imaginary part. */
  y: number;
  /** Width of the region of the complex plane the whole image covers. */
  width: number;
}

export interface PictureParams {
  view: View;
  maxIterations: number;
  tileSize: number;
  rows: number;
  cols: number;
}

/** A picture batch's parameters, from the batch; an error for a batch that is not a picture. */
export function pictureParamsOf(batch: {
  kind: string;
  view?: View;
  maxIterations?: number;
  tileSize?: number;
  rows: number;
  cols: number;
}): PictureParams {
  const { view, maxIterations, tileSize, rows, cols } = batch;
  if (batch.kind !== 'mandelbrot' || !view || !maxIterations || !tileSize) throw new Error(`not a picture batch (kind ${batch.kind})`);
  return { view, maxIterations, tileSize, rows, cols };
}

/** The contract's bounds, for validators to import rather than restate. */
export const VIEW_LIMITS = {
  maxAbsCenter: 4,
  minWidth: 1e-13,
  maxWidth: 8,
  minIterations: 1,
  maxIterations: 100_000,
  minTileSize: 4,
  maxTileSize: 64,
} as const;

/** The point pixel (px, py) samples, written exactly as the contract's formula. */
export function pixelToComplex(p: PictureParams, px: number, py: number): { re: number; im: number } {
  const W = p.cols * p.tileSize;
  const H = p.rows * p.tileSize;
  const s = p.view.width / W;
  return { re: p.view.x + (px + 0.5 - W / 2) * s, im: p.view.y - (py + 0.5 - H / 2) * s };
}

/**
 * The step n (1-based) after which |z|² > 4 first holds, or -1 if it never does within
 * maxIterations steps (the point is inside). The plain loop on purpose: a cardioid test or a
 * periodicity check would be faster but is one more thing a reader must prove equal to the
 * contract's definition.
 */
export function escapeTime(re: number, im: number, maxIterations: number): number {
  let zr = 0;
  let zi = 0;
  for (let n = 1; n <= maxIterations; n++) {
    // Same operations, same order, as zr·zr − zi·zi + re and 2·zr·zi + im.
    const nzr = zr * zr - zi * zi + re;
    zi = 2 * zr * zi + im;
    zr = nzr;
    if (zr * zr + zi * zi > 4) return n;
  }
  return -1;
}

// ---- Palette --------------------------------------------------------------------------------

/** A cyclic gradient after Ultra Fractal's default: deep blue → white → gold → near-black. */
const STOPS: ReadonlyArray<readonly [position: number, r: number, g: number, b: number]> = [
  [0, 0, 7, 100],
  [0.16, 32, 107, 203],
  [0.42, 237, 255, 255],
  [0.6425, 255, 170, 0],
  [0.8575, 0, 2, 0],
];
const PALETTE_SIZE = 2048;

/**
 * The gradient sampled into a table once, with monotone cubic (Fritsch–Carlson) interpolation
 * per channel so the stops do not show as creases and no channel overshoots 0..255.
 */
function buildPalette(): Uint8Array {
  const n = STOPS.length;
  const lut = new Uint8Array(PALETTE_SIZE * 3);
  for (let ch = 0; ch < 3; ch++) {
    // Stops with the first repeated one period later, so the gradient wraps smoothly.
    const xs = [...STOPS.map((s) => s[0]), 1];
    const ys = [...STOPS.map((s) => s[ch + 1]), STOPS[0][ch + 1]];
    const widths: number[] = [];
    const slopes: number[] = [];
    for (let k = 0; k < n; k++) {
      widths.push(xs[k + 1] - xs[k]);
      slopes.push((ys[k + 1] - ys[k]) / widths[k]);
    }
    // Tangent at each stop: the weighted harmonic mean of its two neighbouring slopes
    // (cyclically), zero where the channel turns, so nothing overshoots.
    const tangents: number[] = [];
    for (let k = 0; k <= n; k++) {
      const h0 = widths[(k - 1 + n) % n];
      const h1 = widths[k % n];
      const d0 = slopes[(k - 1 + n) % n];
      const d1 = slopes[k % n];
      tangents.push(d0 * d1 <= 0 ? 0 : (3 * (h0 + h1)) / ((2 * h1 + h0) / d0 + (h1 + 2 * h0) / d1));
    }
    let seg = 0;
    for (let i = 0; i < PALETTE_SIZE; i++) {
      const t = i / PALETTE_SIZE;
      while (t >= xs[seg + 1]) seg++;
      const h = xs[seg + 1] - xs[seg];
      const u = (t - xs[seg]) / h;
      const u2 = u * u;
      const u3 = u2 * u;
      const v =
        (2 * u3 - 3 * u2 + 1) * ys[seg] +
        (u3 - 2 * u2 + u) * h * tangents[seg] +
        (-2 * u3 + 3 * u2) * ys[seg + 1] +
        (u3 - u2) * h * tangents[seg + 1];
      lut[i * 3 + ch] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  // Black means "inside" in the contract, so no outside colour may be black.
  for (let i = 0; i < PALETTE_SIZE; i++) {
    if (lut[i * 3] === 0 && lut[i * 3 + 1] === 0 && lut[i * 3 + 2] === 0) lut[i * 3 + 2] = 1;
  }
  return lut;
}

const PALETTE = buildPalette();

/**
 * Palette cycles per unit of √(smooth count). The square root keeps the bands broad far from the
 * set, where counts are small, yet still cycles near the boundary of deep zooms, where counts are
 * in the thousands and a linear mapping would make noise.
 */
const CYCLES_PER_SQRT = 0.12;
/** Where on the palette a count of zero lands: the dark blue, so the far field is calm. */
const PALETTE_OFFSET = 0.9;

// ---- Rendering ------------------------------------------------------------------------------

/**
 * The tile of cell (row, col): tileSize × tileSize pixels, RGB, row-major from the top.
 * Inside pixels are exactly 0,0,0; outside pixels get a smooth escape-time colour that is never
 * 0,0,0. This is the hot path: plain numbers, no allocation per pixel.
 *
 * Pixels are iterated two at a time. One orbit is a chain of dependent multiplications, so the
 * processor mostly waits on latency; two independent orbits in one loop fill those gaps (about
 * 1.6× faster). Each orbit still performs exactly escapeTime's operations, so every pixel's
 * classification is unchanged.
 */
export function renderTile(p: PictureParams, row: number, col: number): Uint8Array {
  const T = p.tileSize;
  const maxIt = p.maxIterations;
  const x = p.view.x;
  const y = p.view.y;
  const W = p.cols * T;
  const H = p.rows * T;
  const s = p.view.width / W;
  const halfW = W / 2;
  const halfH = H / 2;
  const out = new Uint8Array(T * T * 3);
  for (let j = 0; j < T; j++) {
    const py = row * T + j;
    const im = y - (py + 0.5 - halfH) * s;
    let o = j * T * 3;
    let i = 0;
    for (; i + 1 < T; i += 2, o += 6) {
      const px = col * T + i;
      const reA = x + (px + 0.5 - halfW) * s;
      const reB = x + (px + 1 + 0.5 - halfW) * s;
      let ar = 0;
      let ai = 0;
      let ar2 = 0;
      let ai2 = 0;
      let br = 0;
      let bi = 0;
      let br2 = 0;
      let bi2 = 0;
      let n = 1;
      // escapeTime's loop with the squares kept for the next step: the same doubles.
      for (; n <= maxIt; n++) {
        ai = 2 * ar * ai + im;
        ar = ar2 - ai2 + reA;
        ar2 = ar * ar;
        ai2 = ai * ai;
        bi = 2 * br * bi + im;
        br = br2 - bi2 + reB;
        br2 = br * br;
        bi2 = bi * bi;
        if (ar2 + ai2 > 4 || br2 + bi2 > 4) break;
      }
      let nA = -1;
      let nB = -1;
      if (n <= maxIt) {
        // One escaped at step n (perhaps both); the other goes on alone from n + 1.
        if (ar2 + ai2 > 4) nA = n;
        else {
          continueOrbit(reA, im, ar, ai, n + 1, maxIt);
          nA = orbitN;
          ar = orbitZr;
          ai = orbitZi;
        }
        if (br2 + bi2 > 4) nB = n;
        else {
          continueOrbit(reB, im, br, bi, n + 1, maxIt);
          nB = orbitN;
          br = orbitZr;
          bi = orbitZi;
        }
      }
      shade(out, o, nA, ar, ai, reA, im);
      shade(out, o + 3, nB, br, bi, reB, im);
    }
    if (i < T) {
      // An odd tile size leaves one pixel at the end of the row.
      const re = x + (col * T + i + 0.5 - halfW) * s;
      continueOrbit(re, im, 0, 0, 1, maxIt);
      shade(out, o, orbitN, orbitZr, orbitZi, re, im);
    }
  }
  return out;
}

/** continueOrbit's result, kept at module level so the hot path allocates nothing. */
let orbitN = 0;
let orbitZr = 0;
let orbitZi = 0;

/**
 * Runs the orbit of c = re + i·im on from z = zr + i·zi, doing steps n..maxIt, and leaves the
 * escape step (or -1) in orbitN and the last z in orbitZr, orbitZi.
 */
function continueOrbit(re: number, im: number, zr: number, zi: number, n: number, maxIt: number): void {
  let zr2 = zr * zr;
  let zi2 = zi * zi;
  for (; n <= maxIt; n++) {
    zi = 2 * zr * zi + im;
    zr = zr2 - zi2 + re;
    zr2 = zr * zr;
    zi2 = zi * zi;
    if (zr2 + zi2 > 4) break;
  }
  orbitN = n <= maxIt ? n : -1;
  orbitZr = zr;
  orbitZi = zi;
}

/** Paints one pixel: black if its orbit stayed bounded (n = -1), else its smooth colour. */
function shade(out: Uint8Array, o: number, n: number, zr: number, zi: number, re: number, im: number): void {
  if (n < 0) {
    out[o] = 0;
    out[o + 1] = 0;
    out[o + 2] = 0;
    return;
  }
  // Two more steps on the escaped orbit shrink the error of the smooth count; they only refine
  // the colour, the inside/outside decision is already made.
  let zr2 = zr * zr;
  let zi2 = zi * zi;
  for (let k = 0; k < 2; k++) {
    zi = 2 * zr * zi + im;
    zr = zr2 - zi2 + re;
    zr2 = zr * zr;
    zi2 = zi * zi;
  }
  // Continuous count: n + 3 − log₂(ln|z|), with ln|z| = ½·ln|z|².
  const mu = n + 3 - Math.log2(0.5 * Math.log(zr2 + zi2));
  const t = Math.sqrt(mu > 0 ? mu : 0) * CYCLES_PER_SQRT + PALETTE_OFFSET;
  const idx = ((t - Math.floor(t)) * PALETTE_SIZE) | 0;
  const c = (idx < PALETTE_SIZE ? idx : PALETTE_SIZE - 1) * 3;
  out[o] = PALETTE[c];
  out[o + 1] = PALETTE[c + 1];
  out[o + 2] = PALETTE[c + 2];
}

/** A tile's mean colour, each channel rounded, as upper-case `#RRGGBB`. */
export function meanColor(rgb: Uint8Array): string {
  const pixels = rgb.length / 3;
  if (pixels === 0 || !Number.isInteger(pixels)) throw new Error(`meanColor needs whole RGB pixels, got ${rgb.length} bytes`);
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < rgb.length; i += 3) {
    r += rgb[i];
    g += rgb[i + 1];
    b += rgb[i + 2];
  }
  const hex = (sum: number) =>
    Math.round(sum / pixels)
      .toString(16)
      .toUpperCase()
      .padStart(2, '0');
  return `#${hex(r)}${hex(g)}${hex(b)}`;
}

// ---- Views ----------------------------------------------------------------------------------

export interface NamedView {
  id: string;
  label: string;
  view: View;
  maxIterations: number;
}

export const NAMED_VIEWS: readonly NamedView[] = [
  { id: 'whole', label: 'The whole set', view: { x: -0.75, y: 0, width: 3.5 }, maxIterations: 500 },
  { id: 'seahorse', label: 'Seahorse Valley', view: { x: -0.7453, y: 0.1127, width: 0.01 }, maxIterations: 1000 },
  { id: 'elephant', label: 'Elephant Valley', view: { x: 0.2925, y: 0.0149, width: 0.006 }, maxIterations: 1000 },
  {
    id: 'minibrot',
    label: 'A minibrot in the spirals',
    view: { x: -0.743643887037151, y: 0.13182590420533, width: 1e-5 },
    maxIterations: 3000,
  },
  { id: 'spiral', label: 'Deep spirals', view: { x: -0.743647287037151, y: 0.13182930420533, width: 1.5e-6 }, maxIterations: 3000 },
];

/**
 * The benchmark's fixed picture: 64×64 tiles of 32 px at 2000 iterations over a region where
 * much of the image is boundary, so tiles cost very different amounts (as real zooms do).
 */
export const BENCH_VIEW: NamedView = {
  id: 'bench',
  label: 'Benchmark',
  view: { x: -0.55, y: 0.6, width: 0.5 },
  maxIterations: 2000,
};
export const BENCH_PARAMS: PictureParams = {
  view: BENCH_VIEW.view,
  maxIterations: BENCH_VIEW.maxIterations,
  tileSize: 32,
  rows: 64,
  cols: 64,
};

/**
 * The view centred on the point pixel (px, py) samples, `factor` times narrower (a factor below
 * 1 zooms out), clamped to the contract's limits so the result is always a valid request.
 */
export function zoomView(p: PictureParams, px: number, py: number, factor = 4): View {
  const { re, im } = pixelToComplex(p, px, py);
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  const c = VIEW_LIMITS.maxAbsCenter;
  return {
    x: clamp(re, -c, c),
    y: clamp(im, -c, c),
    width: clamp(p.view.width / factor, VIEW_LIMITS.minWidth, VIEW_LIMITS.maxWidth),
  };
}
