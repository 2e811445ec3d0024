'use client';

import { useState } from 'react';

/** Stops a running batch; the banner then arrives through the socket like any other ending. */
export function CancelButton({ batchId }: { batchId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const cancel = async () => {
    setBusy(true);
    setError('');
    try {
      const response = await fetch(`/api/batches/${encodeURIComponent(batchId)}/cancel`, { method: 'POST' });
      // 409 means it finished first: nothing to report, the banner says how it ended.
      if (!response.ok && response.status !== 409) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        setError(body?.error?.message ?? 'The batch could not be cancelled. Try again.');
      }
    } catch {
      setError('Could not reach the server. Check your connection and try again.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="cancel">
      <button type="button" className="secondary" onClick={cancel} disabled={busy}>
        {busy ? 'Cancelling…' : 'Cancel batch'}
      </button>
      <p className="form-error" aria-live="assertive">
        {error}
      </p>
    </div>
  );
}
