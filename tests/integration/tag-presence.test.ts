import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardSnapshot } from '../../lib/dashboard/types';
import type { WorkersStatusEvent } from '../../lib/realtime/events';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, type TestClient } from '../helpers/realtime';

// A page learns which tags live workers serve (`workers:status`, extension `tags`), so a batch whose
// tag no worker serves can say so instead of waiting silently. Real web server, real workers.

const HEARTBEAT = { WORKER_HEARTBEAT_SECONDS: '1' };
let db: TestDatabase;
let base: string;
let server: WorkerProcess;
let socket: TestClient;
let latest: WorkersStatusEvent | undefined;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(db.url, port, HEARTBEAT);
  socket = await connectClient(base, (s) => s.on('workers:status', (event) => (latest = event)));
});

afterAll(async () => {
  socket?.disconnect();
  await Promise.all([...workers, server].map((p) => p?.stop('SIGKILL')));
  await db?.drop();
});

const tagsHeard = (expected: string[], what: string) =>
  waitFor(() => (JSON.stringify(latest?.tags) === JSON.stringify(expected) ? latest : null), what, 30_000);

describe('tags served, as a page hears them', () => {
  it('follows the live workers’ tags: none, then a worker’s, then another’s; a paused worker serves none', async () => {
    await tagsHeard([], 'no tag while no worker runs');
    workers.push(startWorker(db.url, 't-gpu', { WORKER_TAGS: 'gpu,render', ...HEARTBEAT }));
    expect((await tagsHeard(['gpu', 'render'], 'the gpu worker’s tags')).alive).toBe(1);
    workers.push(startWorker(db.url, 't-default', HEARTBEAT));
    expect((await tagsHeard(['default', 'gpu', 'render'], 'both workers’ tags')).alive).toBe(2);

    const paused = await fetch(`${base}/api/workers/t-gpu/pause`, { method: 'POST' });
    expect(paused.status).toBe(200);
    await tagsHeard(['default'], 'the paused worker’s tags to go');
  });

  it('the dashboard shows the running work by tag, and which tags no live worker serves', async () => {
    // Workers from the test above: t-default runs, t-gpu is paused.
    const snapshots: DashboardSnapshot[] = [];
    const dashboard = io(`${base}/dashboard`, { transports: ['websocket'], forceNew: true });
    dashboard.on('dashboard:snapshot', (snapshot: DashboardSnapshot) => snapshots.push(snapshot));
    try {
      for (const [tag, rows] of [
        ['gpu', 5],
        ['render', 2],
      ] as const) {
        const created = await fetch(`${base}/api/batches`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rows, cols: 10, tag }),
        });
        expect(created.status).toBe(201);
      }
      const snapshot = await waitFor(() => snapshots.findLast((s) => s.tags.length === 2), 'a snapshot with both tags', 30_000);
      expect(snapshot.tags).toEqual([
        { tag: 'gpu', batches: 1, cellsLeft: 50, workers: 0 },
        { tag: 'render', batches: 1, cellsLeft: 20, workers: 0 },
      ]);
      // Resumed, the gpu worker serves both tags again, and paints both batches.
      expect((await fetch(`${base}/api/workers/t-gpu/resume`, { method: 'POST' })).status).toBe(200);
      await waitFor(() => snapshots.findLast((s) => s.tags.length === 0), 'both batches to finish', 60_000);
    } finally {
      dashboard.disconnect();
    }
  });
});
