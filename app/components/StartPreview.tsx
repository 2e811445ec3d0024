'use client';

import { useEffect, useRef } from 'react';
import { renderTile, type View } from '@/lib/pictures/mandelbrot';

/** The preview's box, in CSS pixels; the picture keeps its aspect ratio inside it. */
const BOX_W = 200;
const BOX_H = 150;
/** Preview tiles: small enough to render one between two keystrokes. */
const TILE = 10;
/** Iterations past this add nothing a 200-pixel preview can show, and would make it slow. */
const PREVIEW_MAX_ITERATIONS = 3000;
const SLICE_MS = 6;
/** Random colours: at most this many preview cells on a side, however large the grid. */
const MAX_PREVIEW_CELLS = 40;

export type PreviewSpec =
  { kind: 'mandelbrot'; view: View; maxIterations: number; rows: number; cols: number } | { kind: 'colors'; rows: number; cols: number };

/**
 * What Start will make, small: the chosen Mandelbrot view rendered here in the browser (with the
 * same arithmetic as the workers), or a mosaic of random colours. Always the same box, so switching
 * kinds moves nothing on the page. Purely decorative: the form's hint says the same in words.
 */
export function StartPreview({ spec }: { spec: PreviewSpec | null }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const key = JSON.stringify(spec);

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !spec) return;
    const aspect = spec.cols / spec.rows;
    const cssW = aspect >= BOX_W / BOX_H ? BOX_W : Math.max(8, Math.round(BOX_H * aspect));
    const cssH = aspect >= BOX_W / BOX_H ? Math.max(8, Math.round(BOX_W / aspect)) : BOX_H;
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    if (spec.kind === 'colors') {
      const cols = Math.min(spec.cols, MAX_PREVIEW_CELLS);
      const rows = Math.min(spec.rows, MAX_PREVIEW_CELLS);
      canvas.width = cols;
      canvas.height = rows;
      const image = ctx.createImageData(cols, rows);
      for (let p = 0; p < image.data.length; p += 4) {
        image.data[p] = Math.random() * 256;
        image.data[p + 1] = Math.random() * 256;
        image.data[p + 2] = Math.random() * 256;
        image.data[p + 3] = 255;
      }
      ctx.putImageData(image, 0, 0);
      return;
    }
    const cols = Math.max(1, Math.round(cssW / TILE));
    const rows = Math.max(1, Math.round(cssH / TILE));
    canvas.width = cols * TILE;
    canvas.height = rows * TILE;
    const params = { view: spec.view, maxIterations: Math.min(spec.maxIterations, PREVIEW_MAX_ITERATIONS), tileSize: TILE, rows, cols };
    const tile = ctx.createImageData(TILE, TILE);
    let next = 0;
    let timer: ReturnType<typeof setTimeout>;
    // A few tiles at a time, so typing in the form never waits for the preview.
    const slice = () => {
      const until = performance.now() + SLICE_MS;
      while (next < rows * cols && performance.now() < until) {
        const row = Math.floor(next / cols);
        const col = next % cols;
        const rgb = renderTile(params, row, col);
        for (let s = 0, d = 0; s < rgb.length; s += 3, d += 4) {
          tile.data[d] = rgb[s];
          tile.data[d + 1] = rgb[s + 1];
          tile.data[d + 2] = rgb[s + 2];
          tile.data[d + 3] = 255;
        }
        ctx.putImageData(tile, col * TILE, row * TILE);
        next++;
      }
      if (next < rows * cols) timer = setTimeout(slice, 0);
    };
    // Wait for typing to pause before starting over.
    timer = setTimeout(slice, 120);
    return () => clearTimeout(timer);
    // `key` stands for `spec`: a new object with the same content must not restart the preview.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  return (
    <div className="start-preview" aria-hidden="true">
      <canvas ref={canvasRef} className={spec?.kind === 'colors' ? 'pixelated' : undefined} />
    </div>
  );
}
