'use client';

import { useState } from 'react';

/** Stops a running batch: no cell is coloured once the server has answered. */
export function CancelButton({ batchId }: { batchId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const cancel = async () => {
    setBusy(true);
    setError('');
    const response = await fetch(`/api/batches/${batchId}/cancel`, { method: 'POST' });
    if (!response.ok && response.status !== 409) {
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      setError(body?.error?.message ?? 'The batch could not be cancelled. Try again.');
    }
    setBusy(false);
  };
  return (
    <div className="cancel">
      <button type="button" className="secondary" onClick={cancel} disabled={busy}>
        {busy ? 'Cancelling…' : 'Cancel batch'}
      </button>
      {error && <p role="alert">{error}</p>}
    </div>
  );
}
