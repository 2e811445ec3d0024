'use client';

import { useEffect, useRef, useState, type MouseEvent } from 'react';
import type { CellPosition } from '@/lib/types';
import { FAILED, WAITING, type CellStore } from '../client/cell-store';
import { formatCount } from '../client/format';
import type { ColorBy } from '../client/grid-painter';
import { PictureOverlay } from '../client/picture-overlay';
import { PicturePainter } from '../client/picture-painter';
import { START_DEFAULTS } from '../client/start-defaults';
import type { TileStore } from '../client/tile-store';
import { pointAt, type PictureBatch } from '../client/zoom';

/**
 * A picture batch on a canvas: its tiles' real pixels as they land (PicturePainter, on animation
 * frames), with an overlay that makes each landing glow and, once the picture is finished, shows
 * the box a click zooms into. React renders this only for the label and the hover line.
 */
export function PictureCanvas({
  batch,
  store,
  tiles,
  finished,
  colorBy,
  finishCell,
  onZoom,
}: {
  batch: PictureBatch;
  store: CellStore;
  tiles: TileStore;
  finished: number;
  colorBy: ColorBy;
  /** The tile that crossed the finish line, framed in gold once the batch completed. */
  finishCell: CellPosition | null;
  /** Set when a click may zoom in: picture pixel (px, py) becomes the next picture's centre. */
  onZoom: ((px: number, py: number) => void) | null;
}) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const glowRef = useRef<HTMLCanvasElement>(null);
  const marksRef = useRef<HTMLCanvasElement>(null);
  const painterRef = useRef<PicturePainter | null>(null);
  const overlayPainterRef = useRef<PictureOverlay | null>(null);
  const colorByRef = useRef(colorBy);
  const [hover, setHover] = useState('');
  const { rows, cols } = store;
  const { width, height } = tiles;

  useEffect(() => {
    const canvas = canvasRef.current;
    const glow = glowRef.current;
    const marks = marksRef.current;
    const ctx = canvas?.getContext('2d');
    const glowCtx = glow?.getContext('2d');
    const marksCtx = marks?.getContext('2d');
    const container = canvas?.closest('figure');
    if (!canvas || !glow || !marks || !ctx || !glowCtx || !marksCtx || !container) return;
    const painter = new PicturePainter(canvas, ctx, store, tiles);
    const overlay = new PictureOverlay(glow, glowCtx, marks, marksCtx, store.rows, store.cols);
    painter.setColorBy(colorByRef.current);
    painterRef.current = painter;
    overlayPainterRef.current = overlay;
    const fit = () => {
      painter.fit(container.clientWidth);
      const rect = canvas.getBoundingClientRect();
      overlay.fit(rect.width, rect.height);
    };
    fit();
    const observer = new ResizeObserver(fit);
    observer.observe(container);
    let frame = requestAnimationFrame(function tick(now) {
      overlay.landed(painter.draw(), now);
      overlay.draw(now);
      frame = requestAnimationFrame(tick);
    });
    return () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      painterRef.current = null;
      overlayPainterRef.current = null;
    };
  }, [store, tiles]);

  useEffect(() => {
    colorByRef.current = colorBy;
    painterRef.current?.setColorBy(colorBy);
  }, [colorBy]);

  useEffect(() => {
    overlayPainterRef.current?.setFinishTile(finishCell ? finishCell.row * cols + finishCell.col : -1);
    if (!onZoom) overlayPainterRef.current?.setZoomBox(null);
  }, [finishCell, cols, onZoom]);

  /** The picture pixel under the pointer. */
  const pixelAt = (event: MouseEvent<HTMLCanvasElement>) => {
    const rect = event.currentTarget.getBoundingClientRect();
    const fx = Math.min(0.999999, Math.max(0, (event.clientX - rect.left) / rect.width));
    const fy = Math.min(0.999999, Math.max(0, (event.clientY - rect.top) / rect.height));
    return { fx, fy, px: Math.floor(fx * width), py: Math.floor(fy * height) };
  };

  const onMove = (event: MouseEvent<HTMLCanvasElement>) => {
    const { fx, fy, px, py } = pixelAt(event);
    const row = Math.floor(py / tiles.tileSize);
    const col = Math.floor(px / tiles.tileSize);
    setHover(`${describeTile(store, tiles, row, col)} · ${pointAt(batch, px, py)}`);
    if (onZoom) overlayPainterRef.current?.setZoomBox({ cx: fx, cy: fy, fraction: 1 / START_DEFAULTS.zoom.factor });
  };

  const onLeave = () => {
    setHover('');
    overlayPainterRef.current?.setZoomBox(null);
  };

  const onClick = (event: MouseEvent<HTMLCanvasElement>) => {
    if (!onZoom) return;
    const { px, py } = pixelAt(event);
    onZoom(px, py);
  };

  const total = rows * cols;
  return (
    <figure className="grid-figure picture-figure">
      <div className="picture-frame">
        <canvas
          ref={canvasRef}
          className={`grid picture${onZoom ? ' zoomable' : ''}`}
          data-testid="picture"
          data-rows={rows}
          data-cols={cols}
          data-tile-size={tiles.tileSize}
          data-width={width}
          data-height={height}
          data-color-by={colorBy}
          role="img"
          aria-label={`Mandelbrot picture of ${width} by ${height} pixels in ${formatCount(total)} tiles, ${formatCount(finished)} finished${colorBy === 'worker' ? ', tinted by worker' : ''}`}
          onMouseMove={onMove}
          onMouseLeave={onLeave}
          onClick={onClick}
        />
        <canvas ref={glowRef} className="picture-overlay pixelated" aria-hidden="true" />
        <canvas ref={marksRef} className="picture-overlay" aria-hidden="true" />
      </div>
      {/* Pointer-only detail; the canvas's label carries the summary for everyone. */}
      <figcaption className="hover-line" aria-hidden="true">
        {hover || '\u00a0'}
      </figcaption>
    </figure>
  );
}

function describeTile(store: CellStore, tiles: TileStore, row: number, col: number): string {
  if (row < 0 || col < 0 || row >= store.rows || col >= store.cols) return '';
  const i = row * store.cols + col;
  const value = store.colors[i];
  if (value === FAILED) return `Tile (${row}, ${col}) failed: ${store.errors.get(i) ?? 'no reason given'}`;
  if (value === WAITING) return `Tile (${row}, ${col}): waiting`;
  const worker = store.workers.nameOf(i);
  const pixels = tiles.has[i] ? '' : ' (its pixels are on their way)';
  return `Tile (${row}, ${col})${worker ? `: rendered by ${worker}` : ''}${pixels}`;
}
