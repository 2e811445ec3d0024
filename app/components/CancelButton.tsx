'use client';

import { useEffect, useState } from 'react';

type Ownership = 'checking' | 'yours' | 'not_yours';

/**
 * Stops a running batch; the banner then arrives through the socket like any other ending. The
 * browser session that started a batch may cancel it, and so may an operator (everyone, on a server
 * only this machine can reach and no DASHBOARD_TOKEN); other viewers get a note instead.
 */
export function CancelButton({ batchId }: { batchId: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [ownership, setOwnership] = useState<Ownership>('checking');

  useEffect(() => {
    const controller = new AbortController();
    fetch(`/api/batches/${encodeURIComponent(batchId)}`, { signal: controller.signal })
      .then(async (response) => {
        const body = (await response.json()) as { mayCancel?: unknown };
        setOwnership(body.mayCancel === false ? 'not_yours' : 'yours');
      })
      // Unknown: offer the button and let the server decide.
      .catch(() => controller.signal.aborted || setOwnership('yours'));
    return () => controller.abort();
  }, [batchId]);

  const cancel = async () => {
    setBusy(true);
    setError('');
    try {
      const response = await fetch(`/api/batches/${encodeURIComponent(batchId)}/cancel`, { method: 'POST' });
      if (response.status === 403) {
        setOwnership('not_yours');
        return;
      }
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

  if (ownership === 'checking') return null;
  if (ownership === 'not_yours') {
    return (
      <p className="muted" data-testid="cancel-not-yours">
        Only the browser that started this batch, or an operator, can cancel it.
      </p>
    );
  }
  return (
    <div className="cancel">
      <button type="button" className="secondary" onClick={() => void cancel()} disabled={busy}>
        {busy ? 'Cancelling…' : 'Cancel batch'}
      </button>
      <p className="form-error" aria-live="assertive">
        {error}
      </p>
    </div>
  );
}
