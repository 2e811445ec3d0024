import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import type { JoinAck } from '../../lib/realtime/events';
import { DEFAULT_JOIN_LIMITS } from '../../web/realtime/join-limits';
import type { Batch } from '../../lib/types';
import { MAX_MESSAGE_BYTES } from '../../web/realtime/server';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { connectClient, join, startRealtime, type TestClient } from '../helpers/realtime';

// The real Socket.IO server (attachRealtime) with the default join limits (20 at once, 5 a
// second) and an allowed origin.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url, { allowedOrigins: ['http://allowed.example'] });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await realtime?.close();
  await db?.drop();
});

async function client(): Promise<TestClient> {
  const c = await connectClient(realtime.url);
  clients.push(c);
  return c;
}

const disconnected = (socket: TestClient) => new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));

const start = async () =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows: 1, cols: 1 })).batch;

describe('message size', () => {
  it(`a message over ${MAX_MESSAGE_BYTES} bytes closes that connection; others are unaffected and the server still answers`, async () => {
    const big = await client();
    const bystander = await client();
    const gone = disconnected(big);
    big.emit('batch:join', 'x'.repeat(MAX_MESSAGE_BYTES + 100), () => undefined);
    expect(await gone).toBe('transport close');
    expect(bystander.connected).toBe(true);
    expect(await join(bystander, 'not-a-uuid')).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('a message just under the limit is read (and refused as a bad id)', async () => {
    const c = await client();
    expect(await join(c, 'x'.repeat(MAX_MESSAGE_BYTES - 200))).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(c.connected).toBe(true);
  });
});

describe('batch:join flood limits', () => {
  it('past a burst of 20, joins are refused with rate_limited; after a pause the socket may join again', async () => {
    const c = await client();
    const batch = await start();
    const acks = await Promise.all(Array.from({ length: 30 }, () => join(c, batch.id)));
    const ok = acks.filter((a) => a.ok).length;
    const limited = acks.filter((a) => !a.ok && a.error.code === 'rate_limited');
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThan(23);
    expect(limited.length).toBe(30 - ok);
    expect(limited[0]).toEqual({ ok: false, error: { code: 'rate_limited', message: expect.stringMatching(/try again/) } });
    expect(c.connected).toBe(true);
    // Tokens come back at 5 a second.
    const again = await waitFor(
      async () => {
        const ack = await join(c, batch.id);
        return ack.ok ? ack : null;
      },
      'a join to be admitted again',
      5_000,
    );
    expect(again.batch.id).toBe(batch.id);
  });

  it('a socket that keeps flooding is disconnected, and only that one', async () => {
    const flooder = await client();
    const bystander = await client();
    const gone = disconnected(flooder);
    const acks: JoinAck[] = [];
    for (let i = 0; i < 200 && flooder.connected; i++) flooder.emit('batch:join', 'not-a-uuid', (ack: JoinAck) => acks.push(ack));
    expect(await gone).toBe('io server disconnect');
    expect(acks.some((a) => !a.ok && a.error.code === 'rate_limited')).toBe(true);
    expect(bystander.connected).toBe(true);
    expect(await join(bystander, 'not-a-uuid')).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('a socket may follow at most maxBatches batches at once (50 by default); leaving one makes room', async () => {
    // A server of its own with a small cap and no flood limit to speak of: this is about the cap alone.
    const capped = await startRealtime(db.pool, db.url, { joinLimits: { maxBatches: 5, burst: 1000 } });
    try {
      const c = await connectClient(capped.url);
      clients.push(c);
      const batches: Batch[] = [];
      for (let i = 0; i < 6; i++) batches.push(await start());
      const acks: JoinAck[] = [];
      for (const batch of batches) acks.push(await join(c, batch.id));
      expect(acks.slice(0, 5).every((a) => a.ok)).toBe(true);
      expect(acks[5]).toMatchObject({ ok: false, error: { code: 'too_many_joined' } });
      // Joining one it already follows again is fine (a catch-up rejoin).
      expect((await join(c, batches[0].id)).ok).toBe(true);
      c.emit('batch:leave', batches[0].id);
      expect(await waitFor(async () => ((await join(c, batches[5].id)).ok ? true : null), 'a join after leaving one', 5_000)).toBe(true);
      expect(DEFAULT_JOIN_LIMITS.maxBatches).toBe(50);
    } finally {
      await capped.close();
    }
  });
});

describe('handshake origin', () => {
  const attempt = (origin?: string) =>
    new Promise<'connected' | 'refused'>((resolve) => {
      const socket = connect(realtime.url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        extraHeaders: origin ? { origin } : {},
      });
      socket.once('connect', () => (socket.disconnect(), resolve('connected')));
      socket.once('connect_error', () => (socket.close(), resolve('refused')));
    });

  it('refuses a foreign Origin, admits a listed one, the same host and none', async () => {
    expect(await attempt('http://evil.example')).toBe('refused');
    expect(await attempt('http://allowed.example.evil.example')).toBe('refused');
    expect(await attempt('http://allowed.example')).toBe('connected');
    expect(await attempt(realtime.url)).toBe('connected');
    expect(await attempt()).toBe('connected');
  });
});
