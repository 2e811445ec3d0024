'use client';

import { useEffect, useState } from 'react';
import type { Batch } from '@/lib/types';

/** "0:42", "1:05:00": what is left until a scheduled batch starts, never negative. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * A scheduled batch's page before its start: "Starts in 0:42" ticking down. When the batch starts
 * (`batch:started`), the page above swaps this for the live view, without a reload.
 */
export function StartCountdown({ batch }: { batch: Batch }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, []);
  const startAt = Date.parse(batch.startAt ?? batch.createdAt);
  const left = startAt - now;
  return (
    <div className="notice" data-testid="start-countdown">
      <p>
        <strong>Scheduled.</strong>{' '}
        {left > 0 ? (
          <>
            Starts in <span data-testid="countdown">{formatCountdown(left)}</span>
          </>
        ) : (
          'Starting…'
        )}{' '}
        (at {new Date(startAt).toLocaleTimeString()}
        {batch.schedule ? `, for schedule ${batch.schedule}` : ''}). No cell is queued until then.
      </p>
    </div>
  );
}
