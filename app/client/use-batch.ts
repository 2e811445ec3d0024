import { useEffect, useState } from 'react';
import { BatchFollower } from './batch-follower';
import { EMPTY_VIEW, type BatchView } from './batch-view';
import { getSocket } from './socket';

export type { BatchView, Connection } from './batch-view';

/** Counts reach React at most this often: cells land thousands of times a second. */
const COUNT_REFRESH_MS = 200;

/**
 * One batch, live. Cells stay in the returned `store` (read by the canvas each animation frame);
 * React state holds only the coarse view, refreshed on real changes and on a slow timer for counts.
 */
export function useBatch(batchId: string): BatchView {
  const [view, setView] = useState<BatchView>(EMPTY_VIEW);

  useEffect(() => {
    const refresh = () =>
      setView((prev) => {
        const next = follower.view();
        return sameView(prev, next) ? prev : next;
      });
    const follower = new BatchFollower(batchId, getSocket(), refresh);
    const stop = follower.start();
    // Also resets what an earlier batch id left behind.
    refresh();
    const timer = setInterval(refresh, COUNT_REFRESH_MS);
    return () => {
      clearInterval(timer);
      stop();
    };
  }, [batchId]);

  return view;
}

function sameView(a: BatchView, b: BatchView): boolean {
  return (Object.keys(a) as (keyof BatchView)[]).every((key) => Object.is(a[key], b[key]));
}
