import { cellQueueOf } from '../../lib/queue/cell-job';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/db';
import { sessionCookieOf } from '../helpers/http';
import { startOtlpReceiver } from '../helpers/otlp-receiver';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';

let db: TestDatabase;
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let base: string;
const processes: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startOtlpReceiver();
  const otel = {
    OTEL_ENABLED: '1',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
  };
  const port = await freePort();
  // Chunks of 100: most of the batch's jobs are enqueued after the answer, by the fan-out.
  processes.push(await startWebServer(db.url, port, { ...otel, FANOUT_CHUNK_SIZE: '100' }));
  base = `http://127.0.0.1:${port}`;
  processes.push(startWorker(db.url, 'w-otel', { ...otel, WORKER_FETCH_SIZE: '100' }));
});

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()));
  await receiver.close();
  await db.drop();
});

describe('OpenTelemetry, switched on', () => {
  it('makes one trace of a batch, from the POST in the web server to its completion in a worker', { timeout: 120_000 }, async () => {
    const response = await fetch(`${base}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: 20, cols: 30 }),
    });
    expect(response.status).toBe(201);
    const batch = (await response.json()) as Batch;

    // The batch's trace context is on its row.
    const { rows } = await db.pool.query<{ trace_parent: string }>('select trace_parent from batches where id = $1', [batch.id]);
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(rows[0].trace_parent);
    expect(match).not.toBeNull();
    const [, traceId, rootSpanId] = match!;

    await waitFor(
      async () => ((await (await fetch(`${base}/api/batches/${batch.id}`)).json()) as Batch).status === 'completed',
      'the batch to complete',
      60_000,
    );
    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const completion = await waitFor(() => inTrace().find((s) => s.name === 'batch complete'), 'the completion span', 30_000);

    // Every recording is in (the completion's own recording ends just after it).
    const recordedCells = () =>
      inTrace()
        .filter((s) => s.name === 'cells record')
        .reduce((n, r) => n + Number(r.attributes['finishline.cells.colored']), 0);
    await waitFor(() => recordedCells() === 600, 'every recording span');
    await waitFor(
      () => inTrace().find((s) => s.name === 'batch fan-out' && s.attributes['finishline.fanout.outcome'] === 'all'),
      'the fan-out span',
    );

    const spans = inTrace();
    const byRole = (role: string) => spans.filter((s) => s.resource['finishline.role'] === role);

    // The root: the POST's span, stored on the row, with no parent.
    const root = spans.find((s) => s.spanId === rootSpanId);
    expect(root).toMatchObject({
      name: 'batch create',
      parentSpanId: undefined,
      attributes: { 'finishline.batch.id': batch.id, 'finishline.batch.total': 600 },
    });
    expect(root!.resource).toMatchObject({ 'service.name': 'finish-line-web', 'finishline.role': 'web' });

    // The web server: the creation, the fan-out that went on after the answer, and pg-boss's inserts
    // (the first chunk's inside the creation, the rest inside the fan-out).
    const fanOut = byRole('web').find((s) => s.name === 'batch fan-out')!;
    expect(fanOut.parentSpanId).toBe(rootSpanId);
    // pg-boss names its spans after the queue: the batch's own (lib/queue/cell-job.ts).
    const inserts = byRole('web').filter((s) => s.name === `insert ${cellQueueOf(batch.id)}` && s.scope === 'pg-boss');
    expect(inserts.length).toBe(6);
    expect(inserts.filter((s) => s.parentSpanId === rootSpanId)).toHaveLength(1);
    expect(inserts.filter((s) => s.parentSpanId === fanOut.spanId)).toHaveLength(5);

    // The worker: its recordings, in the same trace, each a child of the root. (Workers fetch with
    // pg-boss's fetch() from each batch's queue, which opens no processing span to link to.)
    const recordings = byRole('worker').filter((s) => s.name === 'cells record');
    expect(recordings.length).toBeGreaterThanOrEqual(6);
    for (const r of recordings) {
      expect(r.parentSpanId).toBe(rootSpanId);
      expect(r.resource).toMatchObject({ 'service.name': 'finish-line-worker', 'service.instance.id': 'w-otel' });
    }
    // pg-boss's own spans of the worker's fetches went out too (traces of their own), named after the batch's queue.
    await waitFor(
      () =>
        receiver.spans.find(
          (s) => s.scope === 'pg-boss' && s.name === `receive ${cellQueueOf(batch.id)}` && s.resource['finishline.role'] === 'worker',
        ),
      "pg-boss's span of a worker's fetch",
    );

    // The completion: inside the recording that finished the batch, in the worker.
    expect(completion.resource['finishline.role']).toBe('worker');
    expect(recordings.map((r) => r.spanId)).toContain(completion.parentSpanId);
    expect(completion.attributes).toMatchObject({
      'finishline.batch.id': batch.id,
      'finishline.batch.status': 'completed',
      'finishline.batch.done': 600,
      'finishline.worker.id': 'w-otel',
    });

    // Metrics went out too: ours and pg-boss's.
    const recorded = await waitFor(
      () => {
        const points = receiver.points.filter(
          (p) => p.metric === 'finishline.cells.recorded' && p.attributes['finishline.cell.outcome'] === 'colored',
        );
        return points.at(-1)?.value === 600 ? points : null;
      },
      'the cells recorded counter to reach 600',
      30_000,
    );
    expect(recorded.at(-1)!.resource['finishline.role']).toBe('worker');
    await waitFor(
      () => receiver.points.find((p) => p.metric === 'finishline.batches.started' && p.resource['finishline.role'] === 'web'),
      'the batches started counter',
    );
    await waitFor(
      () => receiver.points.find((p) => p.metric === 'messaging.process.duration' && p.resource['finishline.role'] === 'worker'),
      "pg-boss's process duration",
    );
  });

  it('puts a cancel in the batch trace too', { timeout: 60_000 }, async () => {
    const post = await fetch(`${base}/api/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: 1000, cols: 1000 }),
    });
    const batch = (await post.json()) as Batch;
    const cookie = sessionCookieOf(post) ?? '';
    expect((await fetch(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } })).status).toBe(200);
    const { rows } = await db.pool.query<{ trace_parent: string }>('select trace_parent from batches where id = $1', [batch.id]);
    const traceId = rows[0].trace_parent.split('-')[1];
    const cancel = await waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.name === 'batch cancel'), 'the cancel span');
    expect(cancel.attributes).toMatchObject({ 'finishline.batch.id': batch.id, 'finishline.batch.status': 'cancelled' });
    expect(cancel.resource['finishline.role']).toBe('web');
  });
});
