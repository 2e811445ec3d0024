'use client';

import { useEffect, useState } from 'react';
import type { BatchCompletedEvent } from '@/lib/realtime/events';
import type { Batch } from '@/lib/types';
import { formatCount, formatSeconds } from '../client/format';

const CLOCK_MS = 250;

/**
 * "123 / 400 cells · 2,345 cells/s · 1.2 s", redrawn a few times a second. The visible line is not
 * a live region — a screen reader would hear it four times a second — so a hidden one announces
 * each tenth of the way instead, and the banner announces the end.
 */
export function ProgressLine({
  batch,
  finished,
  failed,
  completion,
}: {
  batch: Batch;
  finished: number;
  failed: number;
  completion: BatchCompletedEvent | null;
}) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (completion) return;
    const timer = setInterval(() => setNow(Date.now()), CLOCK_MS);
    return () => clearInterval(timer);
  }, [completion]);

  // The server's clock started the batch; a browser clock behind it must not show negative time.
  const elapsedMs = completion ? completion.elapsedMs : Math.max(0, now - Date.parse(batch.startAt ?? batch.createdAt));
  // Failed cells are over too: they count towards the bar and the rate.
  const over = finished + failed;
  const rate = elapsedMs > 0 ? Math.round((over * 1000) / elapsedMs) : 0;
  const tenths = batch.total > 0 ? Math.floor((over / batch.total) * 10) : 0;

  return (
    <div className="progress-block">
      <p className="progress" data-testid="progress">
        {formatCount(finished)} / {formatCount(batch.total)} cells
        {failed > 0 && ` · ${formatCount(failed)} failed`} · {formatCount(rate)} cells/s · {formatSeconds(elapsedMs)}
      </p>
      <progress max={batch.total} value={over} aria-label="Cells finished or failed" />
      <p className="visually-hidden" aria-live="polite">
        {completion ? '' : `${tenths * 10}% of the cells finished or failed`}
      </p>
    </div>
  );
}
