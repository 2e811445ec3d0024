'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { NAMED_VIEWS, VIEW_LIMITS } from '@/lib/pictures/mandelbrot';
import type { BatchInput, BatchKind } from '@/lib/types';
import { formatCount } from '../client/format';
import { startBatch } from '../client/start-batch';
import { MAX_PICTURE_PIXELS, START_DEFAULTS } from '../client/start-defaults';
import { StartPreview, type PreviewSpec } from './StartPreview';

const MAX_SIDE = 1000;
const MAX_PRIORITY = 100;
const MAX_WORK_MS = 5000;
/** The contract's furthest start: 7 days (lib/batches/validate.ts, which the browser does not import). */
const START_MAX_SECONDS = 604_800;

/**
 * Picks what to render — a Mandelbrot picture (a view, its iteration budget, tile size and grid)
 * or random colours (a grid, and optionally simulated work per cell) — and starts a batch; its live
 * view is one navigation away. Each kind keeps its own numbers, so switching back and forth loses
 * nothing.
 */
export function StartForm() {
  const router = useRouter();
  const d = START_DEFAULTS;
  const [kind, setKind] = useState<BatchKind>(d.kind);
  const [viewId, setViewId] = useState<string>(d.picture.viewId);
  const [iterations, setIterations] = useState(String(d.picture.maxIterations));
  const [tileSize, setTileSize] = useState(String(d.picture.tileSize));
  const [pictureRows, setPictureRows] = useState(String(d.picture.rows));
  const [pictureCols, setPictureCols] = useState(String(d.picture.cols));
  const [colorRows, setColorRows] = useState(String(d.colors.rows));
  const [colorCols, setColorCols] = useState(String(d.colors.cols));
  const [workMs, setWorkMs] = useState('');
  const [priority, setPriority] = useState('');
  const [startIn, setStartIn] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const picture = kind === 'mandelbrot';
  const rows = picture ? pictureRows : colorRows;
  const cols = picture ? pictureCols : colorCols;
  const setRows = picture ? setPictureRows : setColorRows;
  const setCols = picture ? setPictureCols : setColorCols;
  const r = parseWhole(rows, 1, MAX_SIDE);
  const c = parseWhole(cols, 1, MAX_SIDE);
  const p = parseOptional(priority, 0, MAX_PRIORITY);
  const it = parseWhole(iterations, VIEW_LIMITS.minIterations, VIEW_LIMITS.maxIterations);
  const t = parseWhole(tileSize, VIEW_LIMITS.minTileSize, VIEW_LIMITS.maxTileSize);
  const w = parseOptional(workMs, 0, MAX_WORK_MS);
  const later = parseOptional(startIn, 0, START_MAX_SECONDS);
  const named = NAMED_VIEWS.find((v) => v.id === viewId) ?? NAMED_VIEWS[0];

  const chooseView = (id: string) => {
    setViewId(id);
    const next = NAMED_VIEWS.find((v) => v.id === id);
    if (next) setIterations(String(next.maxIterations));
  };

  /** The request body, or the sentence that says what to fix. */
  const input = (): BatchInput | string => {
    if (r === null || c === null) return `Rows and cols must be whole numbers from 1 to ${formatCount(MAX_SIDE)}.`;
    if (p === null) return `Priority must be a whole number from 0 to ${MAX_PRIORITY}, or left empty.`;
    if (later === null)
      return `Start in must be a whole number of seconds from 0 to ${formatCount(START_MAX_SECONDS)} (7 days), or left empty.`;
    const priorityField = { ...(p === undefined ? {} : { priority: p }), ...(later ? { startInSeconds: later } : {}) };
    if (!picture) {
      if (w === null) return `Simulated work must be a whole number of milliseconds from 0 to ${formatCount(MAX_WORK_MS)}, or left empty.`;
      // Left empty, a field sends nothing and the server's default applies.
      return { rows: r, cols: c, ...priorityField, ...(w === undefined ? {} : { workMs: w }) };
    }
    if (it === null)
      return `Iterations must be a whole number from ${VIEW_LIMITS.minIterations} to ${formatCount(VIEW_LIMITS.maxIterations)}.`;
    if (t === null) return `Tile size must be a whole number of pixels from ${VIEW_LIMITS.minTileSize} to ${VIEW_LIMITS.maxTileSize}.`;
    return { kind: 'mandelbrot', rows: r, cols: c, tileSize: t, maxIterations: it, view: { ...named.view }, ...priorityField };
  };

  const start = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = input();
    if (typeof body === 'string') {
      setError(body);
      return;
    }
    setBusy(true);
    setError('');
    const result = await startBatch(body);
    if (result.ok) {
      // Stay busy: the button must not start a second batch while the next page loads.
      router.push(`/batches/${result.batch.id}`);
      return;
    }
    setError(result.message);
    setBusy(false);
  };

  const preview: PreviewSpec | null =
    r === null || c === null
      ? null
      : picture
        ? { kind: 'mandelbrot', view: named.view, maxIterations: it ?? named.maxIterations, rows: r, cols: c }
        : { kind: 'colors', rows: r, cols: c };

  return (
    <form className="start-form" onSubmit={(event) => void start(event)} aria-describedby="start-hint">
      <fieldset className="kind-choice">
        <legend>What to render</legend>
        <label>
          <input type="radio" name="kind" value="mandelbrot" checked={picture} onChange={() => setKind('mandelbrot')} />
          Mandelbrot
        </label>
        <label>
          <input type="radio" name="kind" value="colors" checked={!picture} onChange={() => setKind('colors')} />
          Random colours
        </label>
      </fieldset>
      <div className="start-body">
        <div className="start-fields">
          <div className="fields kind-fields">
            {picture ? (
              <>
                <label>
                  View
                  <select className="view-select" value={viewId} onChange={(e) => chooseView(e.target.value)}>
                    {NAMED_VIEWS.map((v) => (
                      <option key={v.id} value={v.id}>
                        {v.label}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Iterations
                  <input
                    type="number"
                    inputMode="numeric"
                    min={VIEW_LIMITS.minIterations}
                    max={VIEW_LIMITS.maxIterations}
                    step={1}
                    required
                    value={iterations}
                    onChange={(e) => setIterations(e.target.value)}
                  />
                </label>
                <label>
                  Tile size (px)
                  <input
                    className="short-input"
                    type="number"
                    inputMode="numeric"
                    min={VIEW_LIMITS.minTileSize}
                    max={VIEW_LIMITS.maxTileSize}
                    step={1}
                    required
                    value={tileSize}
                    onChange={(e) => setTileSize(e.target.value)}
                  />
                </label>
              </>
            ) : (
              <label>
                <span>
                  Simulated work per cell (ms) <span className="optional">(optional)</span>
                </span>
                <input
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={MAX_WORK_MS}
                  step={1}
                  placeholder="0"
                  value={workMs}
                  onChange={(e) => setWorkMs(e.target.value)}
                />
              </label>
            )}
          </div>
          <div className="fields">
            <SideInput label="Rows" value={rows} onChange={setRows} />
            <span className="times" aria-hidden="true">
              ×
            </span>
            <SideInput label="Cols" value={cols} onChange={setCols} />
            <label>
              <span>
                Priority <span className="optional">(optional)</span>
              </span>
              <input
                className="priority-input"
                type="number"
                inputMode="numeric"
                min={0}
                max={MAX_PRIORITY}
                step={1}
                placeholder="0"
                value={priority}
                onChange={(e) => setPriority(e.target.value)}
                aria-describedby="priority-hint"
              />
            </label>
            <label>
              <span>
                Start in (s) <span className="optional">(optional)</span>
              </span>
              <input
                className="priority-input"
                name="start-in"
                type="number"
                inputMode="numeric"
                min={0}
                max={START_MAX_SECONDS}
                step={1}
                placeholder="now"
                value={startIn}
                onChange={(e) => setStartIn(e.target.value)}
              />
            </label>
            <button type="submit" disabled={busy} aria-busy={busy}>
              Start
            </button>
          </div>
        </div>
        <StartPreview spec={preview} />
      </div>
      <p id="start-hint" className="hint">
        {summary(picture, r, c, t)}
        {busy && ' Starting…'}
      </p>
      <p id="priority-hint" className="hint">
        Priority 0–{MAX_PRIORITY}: the queued cells of a higher-priority batch go before those of lower ones.
      </p>
      <p className="form-error" aria-live="assertive">
        {error}
      </p>
    </form>
  );
}

/** "1,024 × 768 pixels in 768 tiles of 32 px, one job each." or "400 cells, one job each." */
function summary(picture: boolean, r: number | null, c: number | null, t: number | null): string {
  if (r === null || c === null) return `Rows and cols are whole numbers from 1 to ${formatCount(MAX_SIDE)}.`;
  if (!picture) return `${formatCount(r * c)} cells, one job each.`;
  if (t === null) return `Tiles are ${VIEW_LIMITS.minTileSize} to ${VIEW_LIMITS.maxTileSize} pixels on a side.`;
  const pixels = r * c * t * t;
  const size = `${formatCount(c * t)} × ${formatCount(r * t)} pixels in ${formatCount(r * c)} tiles of ${t} px, one job each.`;
  return pixels > MAX_PICTURE_PIXELS
    ? `${size} That is more than the ${formatCount(MAX_PICTURE_PIXELS)} pixels a server renders by default: use fewer or smaller tiles.`
    : size;
}

/** A whole number from min to max, or null. */
function parseWhole(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/** Empty means "not given" (undefined); anything else must be a whole number from min to max (null if not). */
function parseOptional(text: string, min: number, max: number): number | undefined | null {
  return text.trim() === '' ? undefined : parseWhole(text, min, max);
}

/** One side of the grid: a whole number of cells, 1 to MAX_SIDE. */
function SideInput({ label, value, onChange }: { label: string; value: string; onChange: (value: string) => void }) {
  return (
    <label>
      {label}
      <input
        type="number"
        inputMode="numeric"
        min={1}
        max={MAX_SIDE}
        step={1}
        required
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}
