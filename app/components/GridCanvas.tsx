'use client';

import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { FAILED, WAITING, type CellStore } from '../client/cell-store';
import { GridPainter, type ColorBy } from '../client/grid-painter';
import { hexOf } from '../client/worker-palette';

/**
 * The grid on a canvas. React renders this a few times a second at most (for the label); the cells
 * themselves are drawn by a GridPainter on animation frames, and only when the store changed.
 */
export function GridCanvas({ store, finished, colorBy }: { store: CellStore; finished: number; colorBy: ColorBy }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const painterRef = useRef<GridPainter | null>(null);
  const colorByRef = useRef(colorBy);
  const [hover, setHover] = useState('');
  const { rows, cols } = store;

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    const container = canvas?.parentElement;
    if (!canvas || !ctx || !container) return;
    const painter = new GridPainter(canvas, ctx, store);
    painter.setColorBy(colorByRef.current);
    painterRef.current = painter;
    const fit = () => painter.fit(container.clientWidth);
    fit();
    const observer = new ResizeObserver(fit);
    observer.observe(container);
    let frame = requestAnimationFrame(function tick() {
      painter.draw();
      frame = requestAnimationFrame(tick);
    });
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      painterRef.current = null;
    };
  }, [store]);

  useEffect(() => {
    colorByRef.current = colorBy;
    painterRef.current?.setColorBy(colorBy);
  }, [colorBy]);

  const onMove = (event: MouseEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const col = Math.floor(((event.clientX - rect.left) / rect.width) * cols);
    const row = Math.floor(((event.clientY - rect.top) / rect.height) * rows);
    setHover(describeCell(store, row, col));
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
        data-color-by={colorBy}
        aria-label={`Grid of ${rows} by ${cols} cells, ${finished} finished${colorBy === 'worker' ? ', coloured by worker' : ''}`}
        onMouseMove={onMove}
        onMouseLeave={() => setHover('')}
      />
      {/* Pointer-only detail; the canvas's label carries the summary for everyone. */}
      <figcaption className="hover-line" aria-hidden="true">
        {hover || '\u00a0'}
      </figcaption>
    </figure>
  );
}

function describeCell(store: CellStore, row: number, col: number): string {
  if (row < 0 || col < 0 || row >= store.rows || col >= store.cols) return '';
  const i = row * store.cols + col;
  const value = store.colors[i];
  if (value === WAITING) return `Cell (${row}, ${col}): waiting`;
  if (value === FAILED) return `Cell (${row}, ${col}) failed: ${store.errors.get(i) ?? 'no reason given'}`;
  const worker = store.workers.nameOf(i);
  return `Cell (${row}, ${col}): ${hexOf(value)}${worker ? `, recorded by ${worker}` : ''}`;
}
