'use client';

import { useEffect, useState } from 'react';
import type { BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import { formatCount, formatSeconds } from './format';

/**
 * "123 / 400 cells · 2,345 cells/s · 1.2 s". Updated a few times a second; screen readers hear
 * it only at each tenth of the way, not on every repaint.
 */
export function ProgressLine({ batch, painted, failed, completion }: { batch: Batch; painted: number; failed: number; completion: BatchCompletedEvent | null }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (completion) return;
    const timer = setInterval(() => setNow(Date.now()), 200);
    return () => clearInterval(timer);
  }, [completion]);

  const started = Date.parse(batch.createdAt);
  const elapsedMs = completion ? completion.elapsedMs : Math.max(0, now - started);
  const finished = painted + failed;
  const rate = elapsedMs > 0 ? Math.round((finished / elapsedMs) * 1000) : 0;
  const tenth = Math.floor((finished / batch.total) * 10);

  return (
    <>
      <p className="progress" data-testid="progress" aria-hidden="true">
        {formatCount(painted)} / {formatCount(batch.total)} cells
        {failed > 0 && <> · {formatCount(failed)} failed</>} · {formatCount(rate)} cells/s · {formatSeconds(elapsedMs)}
      </p>
      <p className="visually-hidden" aria-live="polite">
        {tenth * 10}% of the cells finished
      </p>
      <progress max={batch.total} value={finished} aria-label="Cells finished" />
    </>
  );
}
