'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import type { Batch, ErrorBody } from '@/lib/types';
import { formatCount } from '../client/format';

const MAX_SIDE = 1000;
const MAX_PRIORITY = 100;

/** Picks a grid size and starts a batch; its live view is one navigation away. */
export function StartForm() {
  const router = useRouter();
  const [rows, setRows] = useState('20');
  const [cols, setCols] = useState('20');
  const [priority, setPriority] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const r = parseSide(rows);
  const c = parseSide(cols);
  const p = parsePriority(priority);

  const start = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (r === null || c === null) {
      setError(`Rows and cols must be whole numbers from 1 to ${formatCount(MAX_SIDE)}.`);
      return;
    }
    if (p === null) {
      setError(`Priority must be a whole number from 0 to ${MAX_PRIORITY}, or left empty.`);
      return;
    }
    setBusy(true);
    setError('');
    try {
      const response = await fetch('/api/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // Left empty, the field sends nothing and the server's default (0) applies.
        body: JSON.stringify(p === undefined ? { rows: r, cols: c } : { rows: r, cols: c, priority: p }),
      });
      const body = (await response.json().catch(() => null)) as Partial<Batch & ErrorBody> | null;
      if (response.ok && typeof body?.id === 'string') {
        // Stay busy: the button must not start a second batch while the next page loads.
        router.push(`/batches/${body.id}`);
        return;
      }
      setError(body?.error?.message ?? `The server could not start the batch (HTTP ${response.status}). Try again.`);
    } catch {
      setError('Could not reach the server. Check your connection and try again.');
    }
    setBusy(false);
  };

  return (
    <form className="start-form" onSubmit={start} aria-describedby="start-hint">
      <div className="fields">
        <label>
          Rows
          <input type="number" inputMode="numeric" min={1} max={MAX_SIDE} step={1} required value={rows} onChange={(e) => setRows(e.target.value)} />
        </label>
        <span className="times" aria-hidden="true">
          ×
        </span>
        <label>
          Cols
          <input type="number" inputMode="numeric" min={1} max={MAX_SIDE} step={1} required value={cols} onChange={(e) => setCols(e.target.value)} />
        </label>
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
        <button type="submit" disabled={busy} aria-busy={busy}>
          Start
        </button>
      </div>
      <p id="start-hint" className="hint">
        {r !== null && c !== null ? `${formatCount(r * c)} cells, one job each.` : `Rows and cols are whole numbers from 1 to ${formatCount(MAX_SIDE)}.`}
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

/** Empty means "not given" (undefined); anything else must be a whole number 0..100 (null if not). */
function parsePriority(text: string): number | undefined | null {
  if (text.trim() === '') return undefined;
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n <= MAX_PRIORITY ? n : null;
}

function parseSide(text: string): number | null {
  if (!/^\d+$/.test(text.trim())) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_SIDE ? n : null;
}
