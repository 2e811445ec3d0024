'use client';

import { useState } from 'react';
import type { DashboardWorker, IntakeInfo } from '@/lib/dashboard/types';
import type { IntakeAck } from '@/lib/realtime/events';

/**
 * The remote switch for every worker's intake of cell jobs. Workers pick it up within a second or
 * two, finish what they hold, and then show as paused below.
 */
export function IntakePanel({
  intake,
  workers,
  setPaused,
}: {
  intake: IntakeInfo;
  workers: DashboardWorker[];
  setPaused(paused: boolean): Promise<IntakeAck>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const live = workers.filter((w) => w.status === 'alive' || w.status === 'paused');
  const stopped = live.filter((w) => w.status === 'paused').length;
  // Paused one by one in the workers table: they stay so when intake resumes.
  const heldOnTheirOwn = live.filter((w) => w.desired === 'paused').length;

  const toggle = async () => {
    setBusy(true);
    setError('');
    const ack = await setPaused(!intake.paused);
    if (!ack.ok) setError(ack.error.message);
    setBusy(false);
  };

  let summary: string;
  if (live.length === 0) summary = 'No worker is running.';
  else if (intake.paused)
    summary =
      stopped === live.length
        ? `All ${live.length} workers have stopped taking cell jobs.`
        : `${stopped} of ${live.length} workers have stopped; the rest are finishing the jobs they hold.`;
  else {
    const resuming = stopped - live.filter((w) => w.status === 'paused' && w.desired === 'paused').length;
    summary = `${live.length - stopped} of ${live.length} workers are taking cell jobs.`;
    if (heldOnTheirOwn > 0)
      summary +=
        heldOnTheirOwn === 1 ? ' 1 is paused on its own (see Workers).' : ` ${heldOnTheirOwn} are paused on their own (see Workers).`;
    if (resuming > 0) summary += ` ${resuming} still paused by the switch; they resume within a second or two.`;
  }

  return (
    <section className={`intake ${intake.paused ? 'intake-paused' : 'intake-running'}`} aria-labelledby="intake-heading">
      <div>
        <h2 id="intake-heading">
          Intake: <span data-testid="intake-state">{intake.paused ? 'paused' : 'running'}</span>
        </h2>
        <p className="muted" data-testid="intake-summary">
          {summary} {intake.paused && `Paused at ${new Date(intake.changedAt).toLocaleTimeString()}. Dead letters are still recorded.`}
        </p>
      </div>
      <div>
        <button type="button" className={intake.paused ? '' : 'secondary'} onClick={() => void toggle()} disabled={busy}>
          {intake.paused ? 'Resume intake' : 'Pause intake'}
        </button>
        <p className="form-error" aria-live="assertive">
          {error}
        </p>
      </div>
    </section>
  );
}
