'use client';

import Link from 'next/link';
import { type FormEvent, useCallback, useEffect, useState } from 'react';
import type { BatchInput } from '@/lib/types';
import { storedToken } from '../../client/dashboard-socket';

/** A schedule as `GET /api/schedules` lists it. */
interface ScheduleView {
  name: string;
  cron: string;
  timezone: string;
  batch: BatchInput;
  nextRunAt: string | null;
  createdAt: string;
  lastBatchId: string | null;
  lastRunAt: string | null;
}

/** How often the list is read again: next runs and last batches move once a minute at most. */
const REFRESH_MS = 5_000;

/** The operator's token (the one the dashboard signed in with) as an HTTP header, when there is one. */
function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function errorMessageOf(response: Response): Promise<string> {
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  return body?.error?.message ?? `The server answered ${response.status}.`;
}

/**
 * Recurring batches: each schedule with its next run and the last batch it started, a form to add
 * one and a Delete button on each. It speaks the HTTP API (`/api/schedules`) with the token the
 * dashboard signed in with, so it has the same rights as any operator's script.
 */
export function SchedulesPanel() {
  const [schedules, setSchedules] = useState<ScheduleView[] | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState({ name: '', cron: '* * * * *', timezone: 'UTC', rows: 10, cols: 10 });

  const load = useCallback(async () => {
    try {
      const response = await fetch('/api/schedules', { headers: authHeaders(), cache: 'no-store' });
      if (!response.ok) {
        setError(await errorMessageOf(response));
        return;
      }
      setSchedules(((await response.json()) as { schedules: ScheduleView[] }).schedules);
    } catch {
      setError('Could not reach the server to read the schedules.');
    }
  }, []);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const response = await fetch('/api/schedules', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders() },
        body: JSON.stringify({
          name: form.name.trim(),
          cron: form.cron.trim(),
          timezone: form.timezone.trim(),
          batch: { rows: form.rows, cols: form.cols },
        }),
      });
      if (!response.ok) setError(await errorMessageOf(response));
      else setForm((f) => ({ ...f, name: '' }));
      await load();
    } catch {
      setError('Could not reach the server. Try again.');
    } finally {
      setBusy(false);
    }
  };

  const remove = async (name: string) => {
    setError('');
    try {
      const response = await fetch(`/api/schedules/${encodeURIComponent(name)}`, { method: 'DELETE', headers: authHeaders() });
      if (!response.ok && response.status !== 404) setError(await errorMessageOf(response));
      await load();
    } catch {
      setError('Could not reach the server. Try again.');
    }
  };

  const number = (value: string) => Math.max(1, Math.min(1000, Math.floor(Number(value) || 1)));

  return (
    <section aria-labelledby="schedules-heading" data-testid="schedules">
      <h2 id="schedules-heading">Schedules</h2>
      <p className="muted">A batch on every tick of a cron expression (five fields, a minute at the finest), in a time zone.</p>
      {schedules === null ? (
        <p aria-busy="true">Reading the schedules…</p>
      ) : schedules.length === 0 ? (
        <p className="muted" data-testid="no-schedules">
          No schedule yet.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="dash-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Cron</th>
                <th scope="col">Batch</th>
                <th scope="col">Next run</th>
                <th scope="col">Last batch</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <tr key={s.name} data-testid={`schedule-${s.name}`}>
                  <th scope="row">{s.name}</th>
                  <td>
                    <code>{s.cron}</code> {s.timezone}
                  </td>
                  <td>
                    {s.batch.rows} × {s.batch.cols}
                    {s.batch.kind === 'mandelbrot' ? ' picture' : ''}
                  </td>
                  <td data-testid="next-run">{s.nextRunAt ? new Date(s.nextRunAt).toLocaleTimeString() : '—'}</td>
                  <td data-testid="last-batch">
                    {s.lastBatchId ? (
                      <Link href={`/batches/${s.lastBatchId}`}>
                        {s.lastRunAt ? new Date(s.lastRunAt).toLocaleTimeString() : s.lastBatchId.slice(0, 8)}
                      </Link>
                    ) : (
                      'none yet'
                    )}
                  </td>
                  <td>
                    <button type="button" className="secondary" onClick={() => void remove(s.name)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="schedule-form" onSubmit={(e) => void add(e)} aria-label="Add a schedule">
        <label>
          Name{' '}
          <input
            name="schedule-name"
            value={form.name}
            required
            pattern="[a-z0-9][a-z0-9\-]{0,62}"
            placeholder="every-minute"
            onChange={(e) => setForm({ ...form, name: e.target.value })}
          />
        </label>{' '}
        <label>
          Cron <input name="schedule-cron" value={form.cron} required onChange={(e) => setForm({ ...form, cron: e.target.value })} />
        </label>{' '}
        <label>
          Time zone{' '}
          <input name="schedule-timezone" value={form.timezone} required onChange={(e) => setForm({ ...form, timezone: e.target.value })} />
        </label>{' '}
        <label>
          Rows{' '}
          <input
            name="schedule-rows"
            type="number"
            min={1}
            max={1000}
            value={form.rows}
            onChange={(e) => setForm({ ...form, rows: number(e.target.value) })}
          />
        </label>{' '}
        <label>
          Cols{' '}
          <input
            name="schedule-cols"
            type="number"
            min={1}
            max={1000}
            value={form.cols}
            onChange={(e) => setForm({ ...form, cols: number(e.target.value) })}
          />
        </label>{' '}
        <button type="submit" disabled={busy}>
          Add schedule
        </button>
      </form>
      <p className="form-error" aria-live="assertive" data-testid="schedules-error">
        {error}
      </p>
    </section>
  );
}
