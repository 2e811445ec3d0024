import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './db';
import type { WorkerProcess } from './processes';
import { connectClient, record, startRealtime, type TestClient } from './realtime';

/** What a file of worker tests shares: filled in by beforeAll, its workers killed after each test. */
export interface WorkerFixture {
  db: TestDatabase;
  realtime: Awaited<ReturnType<typeof startRealtime>>;
  /** A Socket.IO client of `realtime`, and everything it heard. */
  socket: TestClient;
  heard: ReturnType<typeof record>;
  /** The worker processes the current test started. */
  workers: WorkerProcess[];
}

/**
 * Registers the hooks of a worker-test file: a database of its own, a realtime server with one
 * client listening, and the test's worker processes SIGKILLed after each test.
 */
export function useWorkerFixture(): WorkerFixture {
  const f = { workers: [] as WorkerProcess[] } as WorkerFixture;
  beforeAll(async () => {
    f.db = await createTestDatabase();
    f.realtime = await startRealtime(f.db.pool, f.db.url);
    f.socket = await connectClient(f.realtime.url);
    f.heard = record(f.socket);
  });
  afterEach(async () => {
    await Promise.all(f.workers.map((w) => w.stop('SIGKILL')));
    f.workers = [];
  });
  afterAll(async () => {
    f.socket.disconnect();
    await f.realtime.close();
    await f.db.drop();
  });
  return f;
}
