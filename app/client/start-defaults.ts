/**
 * What the start form shows a newcomer, and how a click on a finished picture zooms: one object,
 * so the numbers can be tuned in one place. The default picture must stay watchable — a few seconds
 * of tiles landing on a 2-core machine, not a blink and not a wait.
 */
export const START_DEFAULTS = {
  kind: 'mandelbrot',
  picture: {
    /** An id of NAMED_VIEWS (lib/pictures/mandelbrot.ts). */
    // About 5 s from click to banner with two workers on a 2-core machine: long enough to watch
    // the tiles land, short enough not to wait (Seahorse Valley at 24 × 32 was over in 2–3 s).
    viewId: 'minibrot',
    rows: 48,
    cols: 64,
    tileSize: 16,
    /** The view's own budget is used when another view is picked. */
    maxIterations: 3000,
  },
  colors: {
    rows: 20,
    cols: 20,
  },
  zoom: {
    /** A click narrows the view this many times. */
    factor: 4,
    /** Deeper views need more iterations to show their detail: each zoom multiplies them by this… */
    iterationGrowth: 1.5,
    /** …up to this many (a budget the user typed above it is kept, never lowered). */
    maxIterations: 20_000,
  },
} as const;

/** The server's default cap on a picture's pixels (PICTURE_MAX_PIXELS); it has the last word. */
export const MAX_PICTURE_PIXELS = 16_777_216;
