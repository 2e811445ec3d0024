import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import type { WorkerInfo } from '../../lib/db/workers';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { slowCells, startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

// Steering one worker over HTTP (the contract's "Workers, as an operator sees and steers them"):
// a real web server and two real worker processes; pause one, resume it, drain it mid-batch.
// That the start script leaves a drained worker stopped is in start-script.test.ts.

const TOKEN = 'steering-test-token';
// Heartbeats every second: cellsServed and lastHeartbeatAt move within a second.
const HEARTBEAT = { WORKER_HEARTBEAT_SECONDS: '1' };

let db: TestDatabase;
let port: number;
let server: WorkerProcess;
const workers: Record<string, WorkerProcess> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  server = await startWebServer(db.url, port, { DASHBOARD_TOKEN: TOKEN, ...HEARTBEAT });
  // Slow cells (200 ms per fetch of 50, two loops): about 500 cells a second per worker.
  for (const id of ['ws-1', 'ws-2']) workers[id] = startWorker(db.url, id, { ...slowCells(200), ...HEARTBEAT });
});

afterAll(async () => {
  await Promise.all([...Object.values(workers), server].map((p) => p.stop('SIGKILL')));
  await db.drop();
});

async function call(method: 'GET' | 'POST', path: string, token: string | null = TOKEN) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

async function list(): Promise<WorkerInfo[]> {
  const { status, body } = await call('GET', '/api/workers');
  expect(status).toBe(200);
  return (body as { workers: WorkerInfo[] }).workers;
}

const worker = async (id: string) => (await list()).find((w) => w.id === id);
const until = (id: string, check: (w: WorkerInfo) => boolean, what: string, timeoutMs = 30_000) =>
  waitFor(
    async () => {
      const w = await worker(id);
      return w && check(w) ? w : null;
    },
    `${id} ${what}`,
    timeoutMs,
  );

async function post(rows: number, cols: number): Promise<Batch> {
  const response = await fetch(`http://127.0.0.1:${port}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rows, cols }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Batch;
}

const completed = (batchId: string, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const b = await findBatch(db.pool, batchId);
      return b?.status === 'completed' ? b : null;
    },
    `batch ${batchId} completed`,
    timeoutMs,
  );

/** Cells of the batch each worker recorded. */
async function paintedBy(batchId: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ worker_id: string; n: number }>(
    'select worker_id, count(*)::int as n from cells where batch_id = $1 group by worker_id',
    [batchId],
  );
  return Object.fromEntries(rows.map((r) => [r.worker_id, r.n]));
}

describe('GET /api/workers and steering one worker', () => {
  it('lists both live workers with the contract fields, each as its process is', async () => {
    await waitFor(async () => (await list()).filter((w) => w.status === 'alive').length === 2, 'both workers alive');
    const listed = await list();
    expect(listed.map((w) => w.id)).toEqual(['ws-1', 'ws-2']);
    for (const w of listed) {
      expect(Object.keys(w).sort()).toEqual(
        ['id', 'host', 'pid', 'tags', 'startedAt', 'lastHeartbeatAt', 'cellsServed', 'status', 'desired', 'holding'].sort(),
      );
      expect(w).toMatchObject({
        pid: workers[w.id].proc.pid,
        host: expect.any(String),
        tags: ['default'],
        cellsServed: 0,
        status: 'alive',
        desired: 'run',
        holding: {},
      });
      expect(Date.parse(w.startedAt)).toBeLessThanOrEqual(Date.parse(w.lastHeartbeatAt));
    }
    // The heartbeat moves on.
    await until('ws-1', (w) => w.lastHeartbeatAt > listed[0].lastHeartbeatAt, 'heard from again');
  });

  it('is for operators only: a stranger gets 403 and changes nothing; an unknown worker or action is 404', async () => {
    for (const token of [null, 'not-the-token']) {
      expect(await call('GET', '/api/workers', token)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
      for (const action of ['pause', 'resume', 'drain'])
        expect(await call('POST', `/api/workers/ws-1/${action}`, token)).toMatchObject({
          status: 403,
          body: { error: { code: 'forbidden' } },
        });
    }
    expect(await worker('ws-1')).toMatchObject({ status: 'alive', desired: 'run' });

    expect(await call('POST', '/api/workers/no-such-worker/pause')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await call('POST', `/api/workers/${'x'.repeat(300)}/drain`)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    expect(await call('POST', '/api/workers/ws-1/stop')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await call('GET', '/api/workers/ws-1/pause')).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
    expect(await call('GET', '/api/workers?all=1')).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
  });

  it('a paused worker takes no cells while the other paints them all; resumed, it paints again; cellsServed counts what each recorded', async () => {
    const paused = await call('POST', '/api/workers/ws-1/pause');
    expect(paused).toMatchObject({ status: 200, body: { id: 'ws-1', desired: 'paused', pid: workers['ws-1'].proc.pid } });
    // Paused means it has stopped fetching (what it held has finished): only then does it say so.
    await until('ws-1', (w) => w.status === 'paused', 'paused');
    expect(await worker('ws-2')).toMatchObject({ status: 'alive', desired: 'run' });
    // Pausing again is no error.
    expect(await call('POST', '/api/workers/ws-1/pause')).toMatchObject({ status: 200, body: { status: 'paused' } });

    const first = await post(20, 50);
    await completed(first.id);
    expect(await paintedBy(first.id)).toEqual({ 'ws-2': 1000 });
    expect(await worker('ws-1')).toMatchObject({ status: 'paused', cellsServed: 0 });

    expect(await call('POST', '/api/workers/ws-1/resume')).toMatchObject({ status: 200, body: { id: 'ws-1', desired: 'run' } });
    await until('ws-1', (w) => w.status === 'alive', 'alive again');
    const second = await post(20, 50);
    await waitFor(async () => ((await paintedBy(second.id))['ws-1'] ?? 0) > 0, 'ws-1 painting the second batch');
    await completed(second.id);

    // Each worker's count, carried by its heartbeats, is the cells it recorded.
    const recorded = async (id: string) =>
      (await db.pool.query<{ n: number }>('select count(*)::int as n from cells where worker_id = $1', [id])).rows[0].n;
    for (const id of ['ws-1', 'ws-2']) {
      const n = await recorded(id);
      expect(n).toBeGreaterThan(0);
      await until(id, (w) => w.cellsServed === n, `serving ${n} cells`);
    }
  });

  it('a lease client (no process of ours) is listed with pid null, and is paused as soon as it is asked', async () => {
    // As the lease API registers one: a row without a pid, heard from at each lease.
    await db.pool.query(`insert into workers (id, host, pid, tags) values ('lease-client', 'elsewhere', null, '{gpu}')`);
    expect(await worker('lease-client')).toMatchObject({ pid: null, tags: ['gpu'], status: 'alive', desired: 'run' });
    expect(await call('POST', '/api/workers/lease-client/pause')).toMatchObject({
      status: 200,
      body: { status: 'paused', desired: 'paused' },
    });
    expect(await call('POST', '/api/workers/lease-client/resume')).toMatchObject({
      status: 200,
      body: { status: 'alive', desired: 'run' },
    });
  });

  it('a worker drained mid-batch finishes what it holds and exits 0, its row stopped; the other completes the batch', async () => {
    const drained = workers['ws-1'];
    const exited = new Promise<number | null>((resolve) => drained.proc.once('exit', (code) => resolve(code)));
    // 6,000 cells: more than ten seconds for one worker alone, so the drain lands mid-way.
    const batch = await post(60, 100);
    await waitUntilUnderWay(db, batch.id, 300);
    await waitFor(async () => ((await paintedBy(batch.id))['ws-1'] ?? 0) > 0, 'ws-1 painting the batch');

    const response = await call('POST', '/api/workers/ws-1/drain');
    expect(response).toMatchObject({ status: 200, body: { id: 'ws-1', status: 'draining', desired: 'draining' } });
    // A drain is final: neither resume nor pause undoes it (whether or not it has exited yet).
    expect(await call('POST', '/api/workers/ws-1/resume')).toMatchObject({ status: 409, body: { error: { code: 'already_finished' } } });

    expect(await exited).toBe(0);
    expect(drained.output()).not.toMatch(/"level":"(error|warn)"/);
    // It exited while the batch was still running: the rest is the other worker's.
    const atExit = (await findBatch(db.pool, batch.id))!;
    expect(atExit.status).toBe('running');
    expect(await worker('ws-1')).toMatchObject({ status: 'stopped', desired: 'draining', holding: {} });

    const done = await completed(batch.id, 90_000);
    expect(done).toMatchObject({ done: 6000, failed: 0 });
    const painted = await paintedBy(batch.id);
    expect(painted['ws-1']).toBeGreaterThan(0);
    expect(painted['ws-1'] + painted['ws-2']).toBe(6000);
    expect(await worker('ws-2')).toMatchObject({ status: 'alive' });
    // Nothing is left to steer in a stopped worker.
    expect(await call('POST', '/api/workers/ws-1/drain')).toMatchObject({ status: 409, body: { error: { code: 'already_finished' } } });
  });
});
