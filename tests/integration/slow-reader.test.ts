import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { withTransaction } from '../../lib/db/pool';
import { emitInTransaction } from '../../lib/realtime/emitter';
import { batchRoom, type JoinAck, type ServerToClientEvents } from '../../lib/realtime/events';
import type { Batch, BatchInput } from '../../lib/types';
import { DEFAULT_SLOW_READER_LIMITS } from '../../web/realtime/shed-resend';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { startWorker, type WorkerProcess } from '../helpers/processes';
import {
  connectClient,
  drain,
  join,
  serverQueue,
  startRealtime,
  stopReading,
  watchServerQueue,
  type TestClient,
} from '../helpers/realtime';

// A client that stops reading: its server's queue for it stays bounded, and once it reads again it
// holds everything, though it never rejoins (a plain contract client). Over WebSocket the kernel's
// socket buffers hold several MB before the server queues anything, so the first test fills them
// with a picture's tiles; over long-polling nothing stands in between, so the second uses text
// events alone. Both fail on a server that sheds without sending again.

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let workers: WorkerProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
});
afterAll(async () => {
  clients.forEach((c) => c.disconnect());
  await realtime.close();
  await db.drop();
});

const start = async (input: BatchInput) =>
  (await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, input)).batch;

/** What a plain client heard of one batch: colours and tiles by cell, and completion events. */
function listen(client: TestClient, batchId: string) {
  const colors = new Map<string, string>();
  const tiles = new Map<string, Buffer>();
  let completions = 0;
  let heldAtCompletion = 0;
  let events = 0;
  client.on('cells:colored', (event) => {
    if (event.batchId !== batchId) return;
    if (event.cells.length > 0) events++;
    const bytes = event.tiles ? Buffer.from(event.tiles as Uint8Array) : null;
    const size = bytes ? bytes.length / event.cells.length : 0;
    event.cells.forEach((c, k) => {
      colors.set(`${c.row}:${c.col}`, c.color);
      if (bytes) tiles.set(`${c.row}:${c.col}`, bytes.subarray(k * size, (k + 1) * size));
    });
  });
  client.on('batch:completed', (event) => {
    if (event.batchId !== batchId) return;
    completions++;
    heldAtCompletion = colors.size;
  });
  /** Merges a join answer's cells, as a page merges a snapshot. */
  const merge = (answer: JoinAck) => {
    if (answer.ok) for (const c of answer.cells) colors.set(`${c.row}:${c.col}`, c.color);
  };
  return { colors, tiles, merge, events: () => events, completions: () => completions, heldAtCompletion: () => heldAtCompletion };
}

/**
 * A plain client speaking Engine.IO's long-polling by hand (protocol 4, text packets only), so the
 * test decides when it reads: while it sends no GET, everything for it waits in the server's queue,
 * with no kernel buffer in between.
 */
async function pollingClient(url: string) {
  const base = `${url}/socket.io/?EIO=4&transport=polling`;
  const opened = JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string };
  const at = `${base}&sid=${opened.sid}`;
  const post = async (body: string) => {
    const res = await fetch(at, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    await res.text();
  };
  const handlers = new Map<string, (payload: never) => void>();
  const acks = new Map<number, (answer: JoinAck) => void>();
  let id: string | undefined;
  let nextAck = 0;
  /** One GET: every packet the server had queued, or the next one. */
  const aborter = new AbortController();
  const read = async () => {
    for (const packet of (await (await fetch(at, { signal: aborter.signal })).text()).split('\x1e')) {
      if (packet === '2') await post('3');
      else if (packet.startsWith('40')) id = (JSON.parse(packet.slice(2)) as { sid: string }).sid;
      else if (packet.startsWith('42')) {
        const [name, payload] = JSON.parse(packet.slice(2)) as [string, never];
        handlers.get(name)?.(payload);
      } else if (packet.startsWith('43')) {
        const head = /^43(\d+)/.exec(packet)!;
        const [answer] = JSON.parse(packet.slice(head[0].length)) as [JoinAck];
        acks.get(Number(head[1]))?.(answer);
      }
    }
  };
  let reading: Promise<void> | null = null;
  let stopped = false;
  await post('40');
  while (id === undefined) await read();
  return {
    id,
    on<E extends 'cells:colored' | 'batch:completed'>(name: E, handler: (payload: Parameters<ServerToClientEvents[E]>[0]) => void) {
      handlers.set(name, handler as (payload: never) => void);
    },
    join: (batchId: string) =>
      new Promise<JoinAck>((resolve) => {
        const n = nextAck++;
        acks.set(n, resolve);
        void post(`42${n}${JSON.stringify(['batch:join', batchId])}`);
      }),
    /** Reads, GET after GET, until closed. */
    start() {
      reading = (async () => {
        while (!stopped) await read();
      })();
    },
    /** Ends the session; a GET still waiting for news is let go. */
    async close() {
      stopped = true;
      aborter.abort();
      await reading?.catch(() => undefined);
      await post('1').catch(() => undefined);
    },
  };
}

async function stored(batchId: string) {
  const { rows } = await db.pool.query<{ key: string; color: string; tile: Buffer | null }>(
    `select row_no || ':' || col_no as key, color, tile from cells where batch_id = $1 and color is not null`,
    [batchId],
  );
  return rows;
}

const completed = async (batchId: string) => (await findBatch(db.pool, batchId))?.status === 'completed';

describe('a client that stops reading', () => {
  it('costs its server a bounded queue; reading again, without rejoining, it holds every cell and tile and one completion of each batch it follows, and nothing again of one it left or rejoined', async () => {
    const bound = DEFAULT_SLOW_READER_LIMITS.maxQueuedPackets;
    // Small tile fetches: many events of about 50 KB each, each a header and its tiles (binary).
    workers.push(...['w-1', 'w-2'].map((id) => startWorker(db.url, id, { TILE_FETCH_SIZE: '4', WORKER_FETCH_SIZE: '50' })));
    // Uncompressed, its events fill the kernel's buffers and then the server's queue in seconds.
    const client = await connectClient(realtime.url, undefined, { compression: false });
    clients.push(client);

    // The picture's fat binary events fill the kernel's socket buffers (several MB) within seconds;
    // text events alone would take a minute to. The colour batch is started and joined once the
    // server queues for the stalled client, so every one of its text events meets a full queue (it
    // cannot shrink while the client reads nothing); the join's answer, an ack, waits in that queue.
    const picture = await start({
      rows: 32,
      cols: 40,
      kind: 'mandelbrot',
      view: { x: -0.75, y: 0, width: 3 },
      maxIterations: 50,
      tileSize: 64,
    });
    const heardPicture = listen(client, picture.id);
    expect((await join(client, picture.id)).ok).toBe(true);
    const readAgain = stopReading(client);
    const stalledAt = Date.now();
    let left: Batch | undefined;
    let heardLeft: ReturnType<typeof listen> | undefined;
    let rejoined: Batch | undefined;
    let heardRejoined: ReturnType<typeof listen> | undefined;
    let rejoinedAnswer: Promise<JoinAck> | undefined;
    let colours: Batch | undefined;
    let heardColours: ReturnType<typeof listen> | undefined;
    let joinedColours: Promise<JoinAck> | undefined;
    const queue = watchServerQueue(realtime.io, client);
    try {
      await waitFor(() => serverQueue(realtime.io, client) >= bound, 'the server to queue packets for the stalled client', 30_000);
      const atBound = (await findBatch(db.pool, picture.id))!;
      console.log(`bound reached ${Date.now() - stalledAt} ms after the client stopped reading, ${atBound.done} tiles done`);
      // A batch whose events (and completion) are all held back for the client, which then leaves
      // it while still stalled: nothing of it may be sent again. It is shed before the colour batch,
      // and re-sends go a batch at a time in that order, so once the colour batch is whole, anything
      // of this one would have come.
      left = await start({ rows: 10, cols: 10, priority: 100 });
      heardLeft = listen(client, left.id);
      client.emit('batch:join', left.id, () => undefined);
      await waitFor(() => completed(left!.id), 'the batch to leave to complete', 60_000);
      client.emit('batch:leave', left.id);
      const serverSide = realtime.io.of('/').sockets.get(client.id!)!;
      await waitFor(() => !serverSide.rooms.has(batchRoom(left!.id)), 'the server to take the client out of the batch');

      // A batch all of whose events are held back, which the client then rejoins with afterSeq (as
      // the page does on a gap): that answer holds every cell, so none is sent again.
      rejoined = await start({ rows: 10, cols: 10, priority: 100 });
      heardRejoined = listen(client, rejoined.id);
      client.emit('batch:join', rejoined.id, (answer) => heardRejoined!.merge(answer));
      await waitFor(() => completed(rejoined!.id), 'the batch to rejoin to complete', 60_000);
      rejoinedAnswer = new Promise<JoinAck>((resolve) =>
        client.emit('batch:join', rejoined!.id, { afterSeq: 0 }, (answer) => {
          heardRejoined!.merge(answer);
          resolve(answer);
        }),
      );

      colours = await start({ rows: 30, cols: 40, priority: 100 });
      heardColours = listen(client, colours.id);
      joinedColours = new Promise<JoinAck>((resolve) =>
        client.emit('batch:join', colours!.id, (answer) => {
          // Merged as the answer arrives, before any event behind it, as a page merges a snapshot.
          if (answer.ok) for (const c of answer.cells) heardColours!.colors.set(`${c.row}:${c.col}`, c.color);
          resolve(answer);
        }),
      );
      // Ahead of the picture's remaining tiles; the picture goes on while the client catches up.
      await waitFor(() => completed(colours!.id), 'the colour batch to complete', 60_000);
      console.log(`colour batch completed ${Date.now() - stalledAt} ms after the client stopped reading`);
    } catch (err) {
      queue.stop();
      throw err;
    }
    // The test bites: the stalled client's queue reached the bound, so events were shed.
    expect(queue.deepest()).toBeGreaterThanOrEqual(bound);

    readAgain();
    const wholeAt = Date.now();
    expect((await joinedColours!).ok).toBe(true);
    await waitFor(() => completed(picture.id), 'the picture to complete', 60_000);
    for (const [batch, heard] of [
      [picture, heardPicture],
      [colours!, heardColours!],
    ] as const) {
      const cells = await stored(batch.id);
      expect(cells.length).toBe(batch.total);
      await waitFor(
        () => heard.completions() > 0 && cells.every((c) => heard.colors.has(c.key)),
        `the client to hold every cell of ${batch.kind === 'mandelbrot' ? 'the picture' : 'the colour batch'}`,
        30_000,
      );
      const wrong = cells.filter(
        (c) => heard.colors.get(c.key) !== c.color || (c.tile && !c.tile.equals(heard.tiles.get(c.key) ?? Buffer.alloc(0))),
      );
      expect(wrong.map((c) => c.key).slice(0, 5)).toEqual([]);
      // The completion waited for the events shed before it (a client may stop listening there).
      // Not asserted for the picture: its large events travel apart through the adapter (see
      // postgres-adapter.ts), so its completion may overtake its last live event, for any reader.
      if (batch === colours) expect(heard.heldAtCompletion()).toBe(batch.total);
      // Nothing more on its way (a marker behind everything committed), and the end heard once.
      await drain(db.pool, client, batch.id);
      expect(heard.completions()).toBe(1);
    }
    console.log(`the stalled client held everything ${Date.now() - wholeAt} ms after it read again`);
    expect(heardLeft!.colors.size).toBe(0);
    expect(heardLeft!.completions()).toBe(0);
    // The rejoin's answer stood in for the shed events: whole, ended once, nothing sent again.
    expect(await rejoinedAnswer!).toMatchObject({ ok: true, batch: { status: 'completed' } });
    expect(heardRejoined!.colors.size).toBe(rejoined!.total);
    await drain(db.pool, client, rejoined!.id);
    expect(heardRejoined!.completions()).toBe(1);
    expect(heardRejoined!.events()).toBe(0);
    queue.stop();
    // Stalled, then catching up on what was shed: past the bound only packets that are never shed
    // queue up (acks, activity, the image, pings).
    console.log(`deepest server-side queue for the client: ${queue.deepest()} packets (bound ${bound})`);
    expect(queue.deepest()).toBeLessThanOrEqual(bound + 32);
  });

  it('over long-polling, a plain client of a colour batch (text events only) costs a bounded queue and, reading again, holds every cell and one completion', async () => {
    const bound = DEFAULT_SLOW_READER_LIMITS.maxQueuedPackets;
    // Ten cells an event: hundreds of small text events.
    workers.push(...['w-1', 'w-2'].map((id) => startWorker(db.url, id, { WORKER_FETCH_SIZE: '10' })));
    const client = await pollingClient(realtime.url);
    const colors = new Map<string, string>();
    let completions = 0;
    let marker = false;
    client.on('cells:colored', (event) => {
      if (event.cells.length === 0) marker = true;
      for (const c of event.cells) colors.set(`${c.row}:${c.col}`, c.color);
    });
    client.on('batch:completed', () => completions++);
    // It reads nothing from here on: the join's answer and every event of the batch queue up.
    const queue = watchServerQueue(realtime.io, client);
    try {
      const batch = await start({ rows: 50, cols: 60 });
      const joined = client.join(batch.id);
      await waitFor(() => completed(batch.id), 'the batch to complete while the client reads nothing', 60_000);
      // The test bites: the stalled client's queue reached the bound, so events were shed.
      expect(queue.deepest()).toBeGreaterThanOrEqual(bound);
      const readAt = Date.now();
      client.start();
      const answer = await joined;
      if (!answer.ok) throw new Error('join failed');
      for (const c of answer.cells) colors.set(`${c.row}:${c.col}`, c.color);
      const cells = await stored(batch.id);
      expect(cells.length).toBe(batch.total);
      await waitFor(() => completions > 0 && cells.every((c) => colors.get(c.key) === c.color), 'the client to hold every cell');
      // A marker behind everything committed: nothing more on its way, and the end heard once.
      await withTransaction(db.pool, (tx) => emitInTransaction(tx, batch.id, 'cells:colored', { batchId: batch.id, seq: 0, cells: [] }));
      await waitFor(() => marker, 'the marker');
      expect(completions).toBe(1);
      console.log(`long-polling: whole ${Date.now() - readAt} ms after it read again; deepest queue ${queue.deepest()} packets`);
      expect(queue.deepest()).toBeLessThanOrEqual(bound + 32);
    } finally {
      queue.stop();
      await client.close();
    }
  });
});
