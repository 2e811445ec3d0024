import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { expectedColor, insertFinishedBatch } from '../helpers/finished-batch';
import { join, startRealtime, type TestClient } from '../helpers/realtime';

// A client on HTTP long-polling alone (a proxy that refuses WebSocket, say) gets join answers of any
// size, as a WebSocket client does: the real Socket.IO server on a real database, and a real client
// with `transports: ['polling']`.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let large: string;
let small: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // 40,000 cells: an answer of about 1.5 MB, six pieces of 256 KB.
  large = await insertFinishedBatch(db.pool, 200, 200);
  small = await insertFinishedBatch(db.pool, 5, 5);
  realtime = await startRealtime(db.pool, db.url);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await realtime?.close();
  await db?.drop();
});

async function pollingClient(): Promise<TestClient> {
  const socket: TestClient = connect(realtime.url, { path: '/socket.io', transports: ['polling'], forceNew: true, reconnection: false });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

describe('batch:join over HTTP long-polling', () => {
  it('answers a join far past one piece with every cell, in one ack; the connection carries on', async () => {
    const client = await pollingClient();
    const ack = await join(client, large);
    if (!ack.ok) throw new Error(`join refused: ${ack.error.code}: ${ack.error.message}`);
    expect(ack.batch).toMatchObject({ id: large, status: 'completed', done: 40_000 });
    expect(ack.cells).toHaveLength(40_000);
    expect(new Set(ack.cells.map((c) => c.row * 200 + c.col)).size).toBe(40_000);
    for (const cell of ack.cells) if ((cell.row * 200 + cell.col) % 997 === 0) expect(cell.color).toBe(expectedColor(cell.row, cell.col));
    expect(client.io.engine.transport.name).toBe('polling');

    // The same connection goes on answering, small and large, in the order asked.
    const [again, tiny] = await Promise.all([join(client, large), join(client, small)]);
    expect(again.ok && again.cells.length).toBe(40_000);
    expect(tiny.ok && tiny.cells.length).toBe(25);
    expect(client.connected).toBe(true);
  }, 60_000);
});
