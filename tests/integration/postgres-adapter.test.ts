import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../lib/db/pool';
import { emitInTransaction } from '../../lib/realtime/emitter';
import { batchRoom, type CellsColoredEvent } from '../../lib/realtime/events';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/db';
import { connectClient, startRealtime, type TestClient } from '../helpers/realtime';

/**
 * The workers' emitter (@socket.io/postgres-emitter 0.1) and the web servers' adapter
 * (@socket.io/postgres-adapter, pinned at 0.3.1, the last release whose wire format that emitter
 * speaks) must understand each other, and our LISTEN connections lean on how the adapter uses its
 * pool (web/realtime/postgres-adapter.ts). This fails when an update of either
 * breaks that.
 */

const version = (name: string) =>
  (JSON.parse(readFileSync(createRequire(import.meta.url).resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let socket: TestClient;

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
  socket = await connectClient(realtime.url);
});

afterAll(async () => {
  socket?.disconnect();
  await realtime?.close();
  await db?.drop();
});

const cells = (n: number) => Array.from({ length: n }, (_, i) => ({ row: Math.floor(i / 100), col: i % 100, color: '#12AB9F' }));

describe('the Postgres adapter and emitter', () => {
  it('are the versions whose wire format and pool use this code was written for', () => {
    expect(version('@socket.io/postgres-adapter')).toBe('0.3.1');
    expect(version('@socket.io/postgres-emitter')).toMatch(/^0\.1\./);
  });

  it("carry the emitter's events to a client in the room, small ones and ones past NOTIFY's limit, in commit order, after commit only", async () => {
    const batchId = randomUUID();
    realtime.io.socketsJoin(batchRoom(batchId));
    const heard: CellsColoredEvent[] = [];
    socket.on('cells:colored', (event) => heard.push(event));
    // The adapter starts listening once its connection is up; until a probe (seq 0) comes through,
    // an event could pass unheard.
    const probe = () =>
      withTransaction(db.pool, (tx) => emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 0, cells: cells(1) }));
    await waitFor(async () => {
      await probe();
      return heard.length > 0;
    }, 'the adapter listening');

    // A rolled-back transaction announces nothing: the first event to arrive is the committed one after it.
    await withTransaction(db.pool, async (tx) => {
      await emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 1, cells: cells(1) });
      throw new Error('rolled back');
    }).catch(() => undefined);
    await withTransaction(db.pool, (tx) => emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 2, cells: cells(1) }));
    // About 30 KB: over the adapter's 8,000-byte threshold, so it travels through its attachment
    // table and is read back before it is delivered; the small event committed with it, and the one
    // after, must still come after it (a batch's completion after its last tiles).
    await withTransaction(db.pool, async (tx) => {
      await emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 3, cells: cells(1000) });
      await emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 4, cells: cells(1) });
    });
    await withTransaction(db.pool, (tx) => emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 5, cells: cells(1) }));

    const events = () => heard.filter((event) => event.seq > 0);
    await waitFor(() => events().length >= 4, 'the committed events');
    expect(events().map((event) => [event.seq, event.cells.length])).toEqual([
      [2, 1],
      [3, 1000],
      [4, 1],
      [5, 1],
    ]);
  });
});
