'use client';

import Link from 'next/link';
import type { Connection } from '../../client/use-batch';
import { useDashboard, type DashboardConnection } from '../../client/use-dashboard';
import { ConnectionBadge } from '../ConnectionBadge';
import { BatchesTable } from './BatchesTable';
import { IntakePanel } from './IntakePanel';
import { QueuePanel } from './QueuePanel';
import { SchedulesPanel } from './SchedulesPanel';
import { ThroughputChart } from './ThroughputChart';
import { TokenForm } from './TokenForm';
import { WorkersTable } from './WorkersTable';

const BADGE: Record<DashboardConnection, Connection> = {
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  needs_token: 'offline',
  refused: 'offline',
};

/** Queue, workers, batches and throughput, pushed by the server every second; and the controls. */
export function Dashboard() {
  const view = useDashboard();
  const { snapshot, connection } = view;
  const locked = connection === 'needs_token' || connection === 'refused';

  return (
    <main className="dashboard">
      <header className="batch-header">
        <Link href="/">← Finish Line</Link>
        <ConnectionBadge connection={BADGE[connection]} />
      </header>
      <h1>Dashboard</h1>
      {locked ? (
        <TokenForm refused={connection === 'refused'} message={view.authMessage} onSubmit={view.submitToken} />
      ) : snapshot ? (
        <>
          <p className="muted dash-asof" data-testid="as-of" data-at={snapshot.at}>
            Live from PostgreSQL, updated every second · as of {new Date(snapshot.at).toLocaleTimeString()}
          </p>
          <IntakePanel intake={snapshot.intake} workers={snapshot.workers} setPaused={view.setIntakePaused} />
          <QueuePanel queue={snapshot.queue} tags={snapshot.tags} />
          <ThroughputChart series={snapshot.throughput} />
          <WorkersTable workers={snapshot.workers} at={snapshot.at} steer={view.steerWorker} />
          <BatchesTable batches={snapshot.batches} at={snapshot.at} cancel={view.cancelBatch} />
          <SchedulesPanel />
        </>
      ) : (
        <p aria-busy="true">Connecting to the dashboard…</p>
      )}
    </main>
  );
}
