'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { RecentBatches } from './components/RecentBatches';
import { formatCount } from './components/format';

/** Pick a grid size and start a batch; its live view is one navigation away. */
export default function HomePage() {
  const router = useRouter();
  const [rows, setRows] = useState('20');
  const [cols, setCols] = useState('20');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const total = Number(rows) * Number(cols);

  const start = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const response = await fetch('/api/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rows: Number(rows), cols: Number(cols) }),
      });
      const body = (await response.json()) as { id?: string; error?: { message: string } };
      if (!response.ok || !body.id) throw new Error(body.error?.message ?? `The server answered ${response.status}.`);
      router.push(`/batches/${body.id}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main>
      <h1>Finish Line</h1>
      <p className="lede">
        Click Start and the server fans out one job per cell. Worker processes paint the cells as they finish, and the
        page announces — exactly once — when the last one crosses the finish line.
      </p>
      <form className="start-form" onSubmit={start}>
        <label>
          Rows
          <input type="number" min={1} max={1000} step={1} required value={rows} onChange={(e) => setRows(e.target.value)} />
        </label>
        <label>
          Cols
          <input type="number" min={1} max={1000} step={1} required value={cols} onChange={(e) => setCols(e.target.value)} />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Starting…' : 'Start'}
        </button>
        <span className="hint">{Number.isFinite(total) && total > 0 ? `${formatCount(total)} cells` : ''}</span>
      </form>
      <p className="error" role="alert" aria-live="assertive">
        {error}
      </p>
      <RecentBatches />
    </main>
  );
}
