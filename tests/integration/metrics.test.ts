import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELL_QUEUE_PREFIX, cellQueueOf } from '../../lib/queue/cell-job';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, jobStates, type TestDatabase, waitFor } from '../helpers/db';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

const TOKEN = 'metrics-test-token';
// No retries: the poisoned cell goes to the dead-letter queue on its first failure.
const SETTINGS = { DASHBOARD_TOKEN: TOKEN, CELL_RETRY_LIMIT: '0' };

let db: TestDatabase;
let base: string;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  processes.push(await startWebServer(db.url, port, SETTINGS));
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await db.drop();
});

const scrape = (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => fetch(`${base}/metrics`, { headers });

/** `name{labels} value` lines, keyed by everything before the value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** The same numbers, read from Postgres here with queries of the test's own. */
async function fromPostgres(): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  const { rows: batches } = await db.pool.query<{ status: string; n: number; done: number; failed: number; pending: number }>(
    `select s.status, count(b.id)::int as n, coalesce(sum(b.done), 0)::int as done, coalesce(sum(b.failed), 0)::int as failed,
            coalesce(sum(b.total - b.done - b.failed) filter (where b.status = 'running'), 0)::int as pending
       from unnest(array['scheduled', 'running', 'completed', 'cancelled', 'expired']) as s (status) left join batches b on b.status = s.status
      group by s.status`,
  );
  for (const b of batches) expected.set(`finishline_batches{status="${b.status}"}`, b.n);
  expected.set(
    'finishline_cells{outcome="done"}',
    batches.reduce((n, b) => n + b.done, 0),
  );
  expected.set(
    'finishline_cells{outcome="failed"}',
    batches.reduce((n, b) => n + b.failed, 0),
  );
  expected.set(
    'finishline_cells_pending',
    batches.reduce((n, b) => n + b.pending, 0),
  );
  // `cell` counts the jobs of every batch's queue.
  for (const [queue, names] of [
    ['cell', `starts_with(name, '${CELL_QUEUE_PREFIX}')`],
    ['cell-dead', `name = 'cell-dead'`],
  ]) {
    for (const state of ['created', 'retry', 'active', 'failed']) {
      const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from pgboss.job where ${names} and state = $1`, [
        state,
      ]);
      expected.set(`finishline_queue_jobs{queue="${queue}",state="${state}"}`, rows[0].n);
    }
  }
  const { rows: workers } = await db.pool.query<{ n: number }>(
    `select count(*)::int as n from workers where stopped_at is null and last_seen_at > now() - interval '15 seconds'`,
  );
  expected.set('finishline_workers_live', workers[0].n);
  return expected;
}

async function expectMatchesPostgres() {
  const response = await scrape();
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await response.text();
  const samples = parse(text);
  const expected = await fromPostgres();
  for (const [key, value] of expected) expect({ key, value: samples.get(key) }).toEqual({ key, value });
  return { text, samples };
}

async function post(body: unknown): Promise<Batch> {
  const response = await fetch(`${base}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Batch;
}

describe('/metrics', () => {
  it('requires the operator token when one is configured: 403 forbidden without it, as every operator control', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: 'Basic x' },
      { authorization: `Basic ${TOKEN}` },
    ] as Record<string, string>[]) {
      const response = await scrape(headers);
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.json()).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('DASHBOARD_TOKEN') } });
    }
    expect((await scrape()).status).toBe(200);
    expect((await scrape({ authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it('reports batches, cells, queues and workers as Postgres has them, and the process numbers', { timeout: 120_000 }, async () => {
    const running = await post({ rows: 10, cols: 10 });
    const cancelled = await post({ rows: 4, cols: 4 });
    // The dashboard's token may cancel any batch.
    expect(
      (await fetch(`${base}/api/batches/${cancelled.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    await waitFor(
      async () => (await (await db.boss()).getQueue(cellQueueOf(cancelled.id))) === null,
      'the cancelled batch to lose its queue',
    );

    const before = await expectMatchesPostgres();
    expect(before.samples.get('finishline_batches{status="running"}')).toBe(1);
    expect(before.samples.get('finishline_batches{status="cancelled"}')).toBe(1);
    expect(before.samples.get('finishline_queue_jobs{queue="cell",state="created"}')).toBe(100);
    expect(before.samples.get('finishline_cells_pending')).toBe(100);
    expect(before.samples.get('finishline_workers_live')).toBe(0);
    expect(before.text).toContain('# TYPE finishline_queue_jobs gauge');

    // A worker finishes the batch; one of its cells is poisoned and ends up failed via the dead-letter queue.
    processes.push(
      startWorker(db.url, 'w-metrics', { ...SETTINGS, NODE_ENV: 'test', FINISH_LINE_FAULTS: JSON.stringify({ throwAlways: ['0,0'] }) }),
    );
    await waitFor(
      async () => {
        const b = (await (await fetch(`${base}/api/batches/${running.id}`)).json()) as Batch;
        return b.status === 'completed';
      },
      'the batch to complete',
      60_000,
    );
    // The ended batch's queue goes with its jobs (the web server's sweep), so none is left in any state.
    await waitFor(async () => Object.keys(await jobStates(db.pool, running.id)).length === 0, 'the completed batch to lose its queue');
    await waitFor(
      async () => (await fromPostgres()).get('finishline_queue_jobs{queue="cell-dead",state="active"}') === 0,
      'the dead letter to be settled',
    );

    const after = await expectMatchesPostgres();
    expect(after.samples.get('finishline_batches{status="completed"}')).toBe(1);
    expect(after.samples.get('finishline_cells{outcome="done"}')).toBe(99);
    expect(after.samples.get('finishline_cells{outcome="failed"}')).toBe(1);
    expect(after.samples.get('finishline_queue_jobs{queue="cell",state="failed"}') ?? 0).toBe(0);
    expect(after.samples.get('finishline_queue_jobs{queue="cell",state="created"}')).toBe(0);
    expect(after.samples.get('finishline_workers_live')).toBe(1);

    // The answering web server's own numbers.
    expect(after.samples.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(after.samples.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(Math.abs(after.samples.get('process_start_time_seconds')! - Date.now() / 1000)).toBeLessThan(600);
    expect(after.samples.get(`nodejs_version_info{version="${process.version}"}`)).toBe(1);
  });
});
