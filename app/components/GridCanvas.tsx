'use client';

import { useEffect, useRef, useState } from 'react';
import { FAILED, UNPAINTED, type CellStore } from '../client/cell-store';

const MAX_CSS_WIDTH = 800;
const EMPTY_RGB = [0xe5, 0xe7, 0xeb];
const FAILED_RGB = [0x11, 0x18, 0x27];
const GRIDLINE_MIN_CELL_PX = 6;

/**
 * The grid, drawn on a canvas so a million cells stay cheap: an offscreen image holds one pixel per
 * cell, each animation frame writes only the cells that changed into it and scales it up with
 * smoothing off, so every cell is a crisp block of exactly its colour.
 */
export function GridCanvas({ store, painted }: { store: CellStore; painted: number }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<string>('');
  const { rows, cols } = store;

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) return;
    const offscreen = document.createElement('canvas');
    offscreen.width = cols;
    offscreen.height = rows;
    const offCtx = offscreen.getContext('2d');
    if (!offCtx) return;
    const image = offCtx.createImageData(cols, rows);

    const resize = () => {
      const dpr = window.devicePixelRatio || 1;
      const cssWidth = Math.min(MAX_CSS_WIDTH, canvas.parentElement?.clientWidth || MAX_CSS_WIDTH);
      // Whole device pixels per cell, so each cell's centre pixel is exactly its colour.
      const cellPx = Math.max(1, Math.floor((cssWidth * dpr) / Math.max(cols, rows)));
      canvas.width = cellPx * cols;
      canvas.height = cellPx * rows;
      canvas.style.width = `${canvas.width / dpr}px`;
      canvas.style.height = `${canvas.height / dpr}px`;
      store.invalidate();
    };

    const writePixel = (i: number) => {
      const value = store.colors[i];
      const rgb = value === UNPAINTED ? EMPTY_RGB : value === FAILED ? FAILED_RGB : [(value >> 16) & 255, (value >> 8) & 255, value & 255];
      const p = i * 4;
      image.data[p] = rgb[0];
      image.data[p + 1] = rgb[1];
      image.data[p + 2] = rgb[2];
      image.data[p + 3] = 255;
    };

    let frame = 0;
    const draw = () => {
      frame = requestAnimationFrame(draw);
      const dirty = store.takeDirty();
      if (dirty === 'none') return;
      if (dirty === null) for (let i = 0; i < store.colors.length; i++) writePixel(i);
      else for (const i of dirty) writePixel(i);
      offCtx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
      drawOverlay(ctx, store, canvas.width / cols);
    };

    resize();
    const observer = new ResizeObserver(resize);
    if (canvas.parentElement) observer.observe(canvas.parentElement);
    frame = requestAnimationFrame(draw);
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
    };
  }, [store, rows, cols]);

  const onMove = (event: React.MouseEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const col = Math.floor(((event.clientX - rect.left) / rect.width) * cols);
    const row = Math.floor(((event.clientY - rect.top) / rect.height) * rows);
    if (row < 0 || col < 0 || row >= rows || col >= cols) return setHover('');
    const i = row * cols + col;
    const value = store.colors[i];
    if (value === UNPAINTED) setHover(`Cell (${row}, ${col}): waiting`);
    else if (value === FAILED) setHover(`Cell (${row}, ${col}) failed: ${store.errors.get(i) ?? 'unknown error'}`);
    else setHover(`Cell (${row}, ${col}): #${value.toString(16).toUpperCase().padStart(6, '0')}`);
  };

  return (
    <figure className="grid-figure">
      <canvas
        ref={canvasRef}
        className="grid"
        data-testid="grid"
        data-rows={rows}
        data-cols={cols}
        role="img"
        aria-label={`Grid of ${rows} by ${cols} cells, ${painted} painted`}
        title={hover}
        onMouseMove={onMove}
        onMouseLeave={() => setHover('')}
      />
      <figcaption className="hover-line" aria-hidden="true">
        {hover || '\u00a0'}
      </figcaption>
    </figure>
  );
}

/** Gridlines between large cells, and a cross over failed ones; never across a cell's centre pixel. */
function drawOverlay(ctx: CanvasRenderingContext2D, store: CellStore, cellPx: number) {
  if (cellPx >= GRIDLINE_MIN_CELL_PX) {
    ctx.fillStyle = 'rgba(255,255,255,0.9)';
    for (let c = 1; c < store.cols; c++) ctx.fillRect(Math.round(c * cellPx), 0, 1, store.rows * cellPx);
    for (let r = 1; r < store.rows; r++) ctx.fillRect(0, Math.round(r * cellPx), store.cols * cellPx, 1);
  }
  if (store.failed > 0 && cellPx >= GRIDLINE_MIN_CELL_PX) {
    ctx.strokeStyle = '#EF4444';
    ctx.lineWidth = Math.max(1, cellPx / 8);
    for (const i of store.errors.keys()) {
      const x = (i % store.cols) * cellPx;
      const y = Math.floor(i / store.cols) * cellPx;
      const pad = cellPx * 0.25;
      ctx.beginPath();
      ctx.moveTo(x + pad, y + pad);
      ctx.lineTo(x + cellPx - pad, y + cellPx - pad);
      ctx.moveTo(x + cellPx - pad, y + pad);
      ctx.lineTo(x + pad, y + cellPx - pad);
      ctx.stroke();
    }
  }
}
