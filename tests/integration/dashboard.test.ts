import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardSnapshot } from '../../lib/dashboard/types';
import { findBatch } from '../../lib/db/batches';
import { CELL_DEAD_LETTER_QUEUE, cellQueueOf } from '../../lib/queue/cell-job';
import type {
  DashboardClientToServerEvents,
  DashboardServerToClientEvents,
  IntakeAck,
  WorkerAck,
  WorkersStatusEvent,
} from '../../lib/realtime/events';
import type { Batch, ErrorBody } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { slowCells, startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

// The dashboard against a real web server process and real worker processes: its snapshot, the
// intake switch, steering one worker, cancel, the token, and a worker that dies.

type DashboardClient = Socket<DashboardServerToClientEvents, DashboardClientToServerEvents>;

const TOKEN = 'dashboard-test-token';
// Heartbeats every second: a worker is dead three seconds after its last one.
const HEARTBEAT = { WORKER_HEARTBEAT_SECONDS: '1' };

let db: TestDatabase;
let port: number;
let server: WorkerProcess;
const workers: WorkerProcess[] = [];
const clients: DashboardClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  server = await startWebServer(db.url, port, { DASHBOARD_TOKEN: TOKEN, ...HEARTBEAT });
  // Slow cells (200 ms per fetch of 50) keep a 2,000-cell batch in flight for a couple of seconds.
  for (const id of ['dw-1', 'dw-2']) workers.push(startWorker(db.url, id, { ...slowCells(200), ...HEARTBEAT }));
});

afterEach(async () => {
  // Every test leaves intake on and no worker paused, whatever it did.
  await db.pool.query('update intake_control set paused = false');
  await db.pool.query(`update workers set desired = 'run' where desired = 'paused'`);
});

afterAll(async () => {
  clients.forEach((c) => c.disconnect());
  await Promise.all([...workers, server].map((p) => p.stop('SIGKILL')));
  await db.drop();
});

function socketFor(token: string | undefined): DashboardClient {
  const socket: DashboardClient = connect(`http://127.0.0.1:${port}/dashboard`, {
    path: '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: token === undefined ? {} : { token },
  });
  clients.push(socket);
  return socket;
}

/** Resolves with the server's refusal, or null once connected. */
function handshake(socket: DashboardClient): Promise<ErrorBody | null> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(null));
    socket.once('connect_error', (err: Error & { data?: ErrorBody }) =>
      resolve(err.data ?? { error: { code: 'no_data', message: err.message } }),
    );
  });
}

/** A dashboard connection with the right token, keeping every snapshot it receives. */
async function openDashboard() {
  const socket = socketFor(TOKEN);
  const snapshots: DashboardSnapshot[] = [];
  socket.on('dashboard:snapshot', (s) => snapshots.push(s));
  expect(await handshake(socket)).toBeNull();
  return {
    socket,
    /** The first snapshot, already received or still to come, for which `check` holds. */
    until: (check: (s: DashboardSnapshot) => unknown, what: string, timeoutMs = 30_000) =>
      waitFor(() => snapshots.findLast(check), `a dashboard snapshot with ${what}`, timeoutMs),
    /** The next `n` snapshots to arrive. */
    next: async (n: number) => {
      const from = snapshots.length;
      await waitFor(() => snapshots.length >= from + n, `${n} more snapshots`);
      return snapshots.slice(from, from + n);
    },
    pause: () => new Promise<IntakeAck>((resolve) => socket.emit('intake:pause', resolve)),
    resume: () => new Promise<IntakeAck>((resolve) => socket.emit('intake:resume', resolve)),
    steer: (action: 'pause' | 'resume' | 'drain', workerId: string) =>
      new Promise<WorkerAck>((resolve) => socket.emit(`worker:${action}`, workerId, resolve)),
    cancel: (batchId: string) =>
      new Promise<Parameters<Parameters<DashboardClientToServerEvents['batch:cancel']>[1]>[0]>((resolve) =>
        socket.emit('batch:cancel', batchId, resolve),
      ),
  };
}

async function post(rows: number, cols: number): Promise<Batch> {
  const response = await fetch(`http://127.0.0.1:${port}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rows, cols }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Batch;
}

const allWorkers = (s: DashboardSnapshot, status: string) =>
  ['dw-1', 'dw-2'].every((id) => s.workers.find((w) => w.id === id)?.status === status);
const batchIn = (s: DashboardSnapshot, id: string) => s.batches.find((b) => b.id === id);

describe('dashboard', () => {
  it('lets a socket without the token or with a wrong one in, locked: no snapshot, only why; the right one gets snapshots', async () => {
    for (const [token, hint] of [
      [undefined, /needs a token/],
      ['not-the-token', /not the dashboard token/],
    ] as const) {
      const socket = socketFor(token);
      const told = new Promise((resolve) => {
        socket.once('dashboard:snapshot', () => resolve('a snapshot'));
        socket.once('dashboard:locked', resolve);
      });
      expect(await handshake(socket)).toBeNull();
      expect(await told).toEqual({ error: { code: 'forbidden', message: expect.stringMatching(hint) } });
    }
    const dashboard = await openDashboard();
    await dashboard.until((s) => s.intake.paused === false, 'intake on');
    // The default namespace (the batch pages) needs no token.
    const page = connect(`http://127.0.0.1:${port}`, {
      path: '/socket.io',
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => page.once('connect', resolve).once('connect_error', reject));
    page.disconnect();
  });

  it('pausing intake stops every worker (jobs stay queued, dead letters still count); the snapshot holds the real counts, workers and batch; resuming completes it', async () => {
    const dashboard = await openDashboard();
    const paused = await dashboard.pause();
    expect(paused).toMatchObject({ ok: true, intake: { paused: true } });
    const stopped = await dashboard.until((s) => s.intake.paused && allWorkers(s, 'paused'), 'both workers paused', 15_000);
    const { rows } = await db.pool.query<{ id: string; paused: boolean }>('select id, paused from workers order by id');
    expect(rows).toEqual([
      { id: 'dw-1', paused: true },
      { id: 'dw-2', paused: true },
    ]);
    // Each worker as its process is.
    for (const worker of workers) {
      expect(stopped.workers.find((w) => w.id === worker.id)).toMatchObject({
        pid: worker.proc.pid,
        status: 'paused',
        host: expect.any(String),
      });
    }

    const batch = await post(10, 10);
    // A dead letter is recorded even while intake is paused: its consumer keeps running.
    await (await db.boss()).send(CELL_DEAD_LETTER_QUEUE, { batchId: batch.id, row: 0, col: 0 });
    const seen = await dashboard.until(
      (s) => batchIn(s, batch.id)?.failed === 1 && s.queue.deadLettered.count === 1,
      'the batch, its dead letter counted',
    );
    expect(batchIn(seen, batch.id)).toMatchObject({ status: 'running', done: 0, total: 100, rows: 10, cols: 10 });
    expect(seen.queue).toEqual({
      queued: { count: 100, kind: 'exact' },
      active: { count: 0, kind: 'exact' },
      retrying: { count: 0, kind: 'exact' },
      failed: { count: 0, kind: 'exact' },
      deadLettered: { count: 1, kind: 'exact' },
    });
    expect(await jobStates(db.pool, batch.id)).toEqual({ created: 100 });

    // Three more ticks (about three seconds) and nothing was taken.
    for (const s of await dashboard.next(3)) {
      expect(s.queue.queued).toEqual({ count: 100, kind: 'exact' });
      expect(batchIn(s, batch.id)).toMatchObject({ status: 'running', done: 0 });
      expect(allWorkers(s, 'paused')).toBe(true);
    }

    expect(await dashboard.resume()).toMatchObject({ ok: true, intake: { paused: false } });
    const done = await dashboard.until((s) => batchIn(s, batch.id)?.status === 'completed', 'the batch completed');
    expect(batchIn(done, batch.id)).toMatchObject({ done: 99, failed: 1 });
    await dashboard.until((s) => !s.intake.paused && allWorkers(s, 'alive'), 'both workers alive');
    // The chart counts every cell job served, from the workers' samples in Postgres.
    await dashboard.until((s) => s.throughput.perSecond.reduce((a, b) => a + b, 0) >= 100, 'the chart holding the 100 cells');
    await dashboard.until((s) => s.queue.queued.count === 0 && s.queue.active.count === 0, 'an empty queue');
  });

  it('a pause mid-batch lets the jobs in hand finish and then holds the rest, and batch pages hear of it; resume completes the batch', async () => {
    const dashboard = await openDashboard();
    // A batch page's socket: it is told whether intake is paused, so the page can say why nothing moves.
    const statuses: WorkersStatusEvent[] = [];
    const page = connect(`http://127.0.0.1:${port}`, {
      path: '/socket.io',
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    page.on('workers:status', (event: WorkersStatusEvent) => statuses.push(event));
    await waitFor(() => statuses.at(-1)?.intakePaused === false, 'the page to hear that intake is on');
    // About four seconds of work for the two slow workers.
    const batch = await post(40, 100);
    await waitUntilUnderWay(db, batch.id, 200);
    await dashboard.pause();
    const held = await dashboard.until(
      (s) => allWorkers(s, 'paused') && s.queue.active.count === 0,
      'both workers paused with nothing active',
    );
    const doneAtPause = batchIn(held, batch.id)!.done;
    expect(doneAtPause).toBeGreaterThan(0);
    expect(doneAtPause).toBeLessThan(4000);
    expect(held.queue.queued).toEqual({ count: 4000 - doneAtPause, kind: 'exact' });
    for (const s of await dashboard.next(2)) expect(batchIn(s, batch.id)).toMatchObject({ status: 'running', done: doneAtPause });
    await waitFor(() => statuses.at(-1)?.intakePaused === true, 'the page to hear that intake is paused');
    expect(statuses.at(-1)?.alive).toBe(2);

    await dashboard.resume();
    await waitFor(() => statuses.at(-1)?.intakePaused === false, 'the page to hear that intake is on again');
    page.disconnect();
    // Each worker's rate covers the last few seconds, so it shows while the rest is painted and just after.
    await dashboard.until((s) => s.workers.some((w) => w.cellsPerSecond > 0), 'a worker serving cells');
    await dashboard.until((s) => batchIn(s, batch.id)?.status === 'completed', 'the batch completed', 60_000);
    expect(await findBatch(db.pool, batch.id)).toMatchObject({ status: 'completed', done: 4000 });
    // Heartbeats carry each worker's count: together they served at least every cell.
    const served = await dashboard.until((s) => s.workers.reduce((n, w) => n + w.cellsServed, 0) >= 4100, 'cells served adding up');
    expect(served.workers.filter((w) => w.cellsServed > 0).length).toBeGreaterThan(0);
  });

  it('cancels a batch from the dashboard, with an ack; again is already_finished; a bad id is not_found', async () => {
    const dashboard = await openDashboard();
    await dashboard.pause();
    await dashboard.until((s) => allWorkers(s, 'paused'), 'both workers paused', 15_000);
    const batch = await post(20, 20);
    const ack = await dashboard.cancel(batch.id);
    expect(ack).toMatchObject({ ok: true, batch: { id: batch.id, status: 'cancelled', done: 0 } });
    await dashboard.until(
      (s) => batchIn(s, batch.id)?.status === 'cancelled' && s.queue.queued.count === 0,
      'the batch cancelled and its jobs gone',
    );
    expect(await dashboard.cancel(batch.id)).toMatchObject({ ok: false, error: { code: 'already_finished' } });
    expect(await dashboard.cancel('not-a-uuid')).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await dashboard.cancel('3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61')).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it("past the counting cap, the queued count is pg-boss's own figure, marked as an estimate", async () => {
    const dashboard = await openDashboard();
    await dashboard.pause();
    await dashboard.until((s) => allWorkers(s, 'paused'), 'both workers paused', 15_000);
    const batch = await post(120, 100);
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.enqueued === 12_000, 'every job enqueued');
    const capped = await dashboard.until((s) => s.queue.queued.kind !== 'exact', 'the queued count past the cap');
    expect(capped.queue.queued.count).toBeGreaterThanOrEqual(10_000);
    // pg-boss's figures come from its monitor pass, which the workers run every 5 s; on a loaded
    // machine a pass can be late or deferred (pg-boss backs off when its count scans run long), so
    // the test runs pg-boss's own pass on the batch's queue as well, as an operator's supervise() call would.
    const boss = await db.boss();
    const monitor = setInterval(() => {
      boss.supervise(cellQueueOf(batch.id)).catch(() => undefined);
    }, 2_000);
    try {
      await dashboard.until((s) => s.queue.queued.kind === 'estimate' && s.queue.queued.count === 12_000, 'the estimate of 12,000', 60_000);
    } finally {
      clearInterval(monitor);
    }
    expect((await dashboard.cancel(batch.id)).ok).toBe(true);
    await dashboard.until((s) => s.queue.queued.kind === 'exact' && s.queue.queued.count === 0, 'the queue empty again');
  });

  it('pauses, resumes and drains one worker from the dashboard, the others untouched; refused to a locked dashboard; an unknown worker is not_found', async () => {
    const stranger = socketFor('not-the-token');
    expect(await handshake(stranger)).toBeNull();
    for (const action of ['worker:pause', 'worker:resume', 'worker:drain'] as const) {
      const refused = await new Promise<WorkerAck>((resolve) => stranger.emit(action, 'dw-1', resolve));
      expect(refused).toEqual({ ok: false, error: { code: 'forbidden', message: expect.any(String) } });
    }

    const dashboard = await openDashboard();
    const worker = (s: DashboardSnapshot, id: string) => s.workers.find((w) => w.id === id);
    // The test before paused intake: both take cell jobs again first.
    await dashboard.until((s) => !s.intake.paused && allWorkers(s, 'alive'), 'both workers alive', 15_000);
    expect(await dashboard.steer('pause', 'dw-1')).toMatchObject({ ok: true, worker: { id: 'dw-1', desired: 'paused' } });
    const paused = await dashboard.until(
      (s) => worker(s, 'dw-1')?.status === 'paused' && worker(s, 'dw-1')?.desired === 'paused',
      'dw-1 paused',
      15_000,
    );
    expect(paused.intake.paused).toBe(false);
    expect(worker(paused, 'dw-2')).toMatchObject({ status: 'alive', desired: 'run' });
    expect(await dashboard.steer('resume', 'dw-1')).toMatchObject({ ok: true, worker: { id: 'dw-1', desired: 'run' } });
    await dashboard.until((s) => s.at > paused.at && allWorkers(s, 'alive'), 'both workers alive again', 15_000);

    // A worker of its own to drain: it exits 0 and shows as stopped.
    const extra = startWorker(db.url, 'dw-4', { ...slowCells(200), ...HEARTBEAT });
    workers.push(extra);
    const exited = new Promise<number | null>((resolve) => extra.proc.once('exit', (code) => resolve(code)));
    await dashboard.until((s) => worker(s, 'dw-4')?.status === 'alive', 'dw-4 alive');
    expect(await dashboard.steer('drain', 'dw-4')).toMatchObject({ ok: true, worker: { id: 'dw-4', status: 'draining' } });
    expect(await exited).toBe(0);
    await dashboard.until((s) => worker(s, 'dw-4')?.status === 'stopped', 'dw-4 stopped', 15_000);
    expect(await dashboard.steer('resume', 'dw-4')).toMatchObject({ ok: false, error: { code: 'already_finished' } });

    expect(await dashboard.steer('pause', 'no-such-worker')).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('shows a killed worker as dead after three missed heartbeats, and a worker stopped cleanly as stopped', async () => {
    const dashboard = await openDashboard();
    const extra = startWorker(db.url, 'dw-3', { ...slowCells(200), ...HEARTBEAT });
    workers.push(extra);
    await dashboard.until((s) => s.workers.find((w) => w.id === 'dw-3')?.status === 'alive', 'dw-3 alive');
    await workers[1].stop('SIGKILL');
    const dead = await dashboard.until((s) => s.workers.find((w) => w.id === 'dw-2')?.status === 'dead', 'dw-2 dead', 15_000);
    expect(dead.workers.find((w) => w.id === 'dw-1')?.status).toBe('alive');
    await extra.stop('SIGTERM');
    await dashboard.until((s) => s.workers.find((w) => w.id === 'dw-3')?.status === 'stopped', 'dw-3 stopped', 15_000);
  });
});
