import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../lib/types';
import { waitUntilUnderWay } from '../helpers/batch-checks';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { expectConverged, follow } from '../helpers/follower';
import { freePort } from '../../scripts/ports';
import { slowCells, startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, drain, expectCompletedOnce, join, record } from '../helpers/realtime';

// Two real web server processes (Next.js + Socket.IO + the Postgres adapter) on one database.

let db: TestDatabase;
const ports: number[] = [];
const servers: WorkerProcess[] = [];
const workers: WorkerProcess[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  ports.push(await freePort(), await freePort());
  servers.push(...(await Promise.all(ports.map((port) => startWebServer(db.url, port)))));
  workers.push(startWorker(db.url, 'w-1', slowCells(60)), startWorker(db.url, 'w-2', slowCells(60)));
});

afterAll(async () => {
  closers.forEach((close) => close());
  await Promise.all([...workers, ...servers].map((p) => p.stop()));
  await db.drop();
});

const url = (i: number) => `http://127.0.0.1:${ports[i]}`;

async function startVia(i: number, rows: number, cols: number): Promise<Batch> {
  const response = await fetch(`${url(i)}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rows, cols }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as Batch;
}

function viewer(i: number, batchId: string) {
  const f = follow(url(i), batchId);
  closers.push(f.close);
  return f;
}

describe('several web servers', () => {
  it('a batch started through server A is watched live from server B; every client on every server gets every cell', async () => {
    const batch = await startVia(0, 30, 40);
    const viewers = [viewer(0, batch.id), viewer(0, batch.id), viewer(1, batch.id), viewer(1, batch.id)];
    // A plain contract client on B, to count completions.
    const raw = await connectClient(url(1));
    closers.push(() => raw.disconnect());
    const heard = record(raw);
    expect((await join(raw, batch.id, heard)).ok).toBe(true);

    for (const v of viewers) await expectConverged(db, v.follower, batch.id, v.completions);
    await waitFor(() => heard.ended(batch.id), 'the end of the batch on server B');
    await drain(db.pool, raw, batch.id);
    expectCompletedOnce(heard, batch.id);
    // B's client saw cells painted by workers while it sat on B: the broadcast crossed servers.
    expect(heard.seen.filter((e) => e.cells.length > 0).length).toBeGreaterThan(0);
  });

  it('a web server SIGKILLed and restarted mid-batch: its clients come back and catch up while workers go on', async () => {
    const batch = await startVia(0, 40, 50);
    const onB = viewer(1, batch.id);
    await waitUntilUnderWay(db, batch.id, 200);
    await servers[1].stop('SIGKILL');
    await waitFor(() => onB.follower.view().connection === 'reconnecting', 'the client on B to notice');
    await waitUntilUnderWay(db, batch.id, 800);
    servers[1] = await startWebServer(db.url, ports[1]);
    const restartedAt = Date.now();
    await expectConverged(db, onB.follower, batch.id, onB.completions);
    console.log(`catch-up after a web server restart: ${Date.now() - restartedAt} ms from listening to every cell`);
  });
});
