import { NAMED_VIEWS, pictureParamsOf, pixelToComplex, zoomView } from '@/lib/pictures/mandelbrot';
import type { Batch, BatchInput } from '@/lib/types';
import { START_DEFAULTS } from './start-defaults';

export type PictureBatch = Batch & Required<Pick<Batch, 'view' | 'maxIterations' | 'tileSize'>>;

export function pictureOf(batch: Batch): PictureBatch | null {
  return batch.kind === 'mandelbrot' && batch.view && batch.maxIterations && batch.tileSize ? (batch as PictureBatch) : null;
}

/**
 * The next picture of a zoom journey: the same grid, tiles and (a little more) iterations, centred
 * on picture pixel (px, py) and START_DEFAULTS.zoom.factor times narrower.
 */
export function zoomInput(batch: PictureBatch, px: number, py: number): BatchInput {
  const { factor, iterationGrowth, maxIterations: cap } = START_DEFAULTS.zoom;
  const grown = Math.min(cap, Math.round(batch.maxIterations * iterationGrowth));
  const input: BatchInput = {
    kind: 'mandelbrot',
    rows: batch.rows,
    cols: batch.cols,
    tileSize: batch.tileSize,
    maxIterations: Math.max(batch.maxIterations, grown),
    view: zoomView(pictureParamsOf(batch), px, py, factor),
  };
  if (batch.priority > 0) input.priority = batch.priority;
  return input;
}

/** The named view a picture shows, if it is exactly one of them. */
export function viewName(batch: PictureBatch): string | null {
  const v = batch.view;
  return NAMED_VIEWS.find((n) => n.view.x === v.x && n.view.y === v.y && n.view.width === v.width)?.label ?? null;
}

/** Enough decimals to tell neighbouring pixels apart, not more. */
export function decimalsFor(view: { width: number }, pixelsAcross: number): number {
  return Math.min(15, Math.max(2, Math.ceil(-Math.log10(view.width / pixelsAcross)) + 1));
}

/** "−0.745301 + 0.112702i" */
export function formatComplex(re: number, im: number, decimals: number): string {
  const sign = (n: number) => (n < 0 ? '−' : '');
  return `${sign(re)}${Math.abs(re).toFixed(decimals)} ${im < 0 ? '−' : '+'} ${Math.abs(im).toFixed(decimals)}i`;
}

/** The point of the complex plane at picture pixel (px, py), formatted. */
export function pointAt(batch: PictureBatch, px: number, py: number): string {
  const { re, im } = pixelToComplex(pictureParamsOf(batch), px, py);
  return formatComplex(re, im, decimalsFor(batch.view, batch.cols * batch.tileSize));
}
