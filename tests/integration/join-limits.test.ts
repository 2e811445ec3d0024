import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinAck } from '../../lib/realtime/events';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { expectedColor, insertFinishedBatch } from '../helpers/finished-batch';
import { startWebServer, type WorkerProcess } from '../helpers/processes';
import { startProxy } from '../../scripts/tcp-proxy';
import { connectClient, join, type TestClient } from '../helpers/realtime';

// Joins cost the web server bounded memory, whatever one socket asks for: a real web server
// process, a finished 1,000 × 1,000 batch written straight into its database, and its RSS sampled
// from /proc while sockets join it.

const LIMIT_BYTES = 500 * 1024 * 1024;

let db: TestDatabase;
let web: WorkerProcess;
let url: string;
let huge: string;
let small: string;
let rss: { peak: number; stop(): void };
const clients: TestClient[] = [];

/** The process's resident set, sampled every 20 ms; `peak` is the largest seen. */
function sampleRss(pid: number) {
  const read = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const sampler = { peak: read(), stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    try {
      sampler.peak = Math.max(sampler.peak, read());
    } catch {
      // The process is gone: the test fails on its own account.
    }
  }, 20);
  return sampler;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

beforeAll(async () => {
  db = await createTestDatabase();
  const started = Date.now();
  huge = await insertFinishedBatch(db.pool, 1000, 1000);
  small = await insertFinishedBatch(db.pool, 10, 10);
  console.log(`a finished 1,000,000-cell batch written in ${Date.now() - started} ms`);
  const port = await freePort();
  web = await startWebServer(db.url, port);
  url = `http://127.0.0.1:${port}`;
  rss = sampleRss(web.proc.pid!);
  console.log(`web server at rest: ${mb(rss.peak)} RSS`);
}, 180_000);

afterAll(async () => {
  rss?.stop();
  for (const c of clients) c.disconnect();
  await web?.stop();
  await db?.drop();
});

async function client(at = url): Promise<TestClient> {
  const c = await connectClient(at);
  clients.push(c);
  return c;
}

/** A join of the small batch from a socket of its own: how long its answer takes. */
async function bystanderJoin(): Promise<number> {
  const c = await client();
  const began = Date.now();
  const ack = await join(c, small);
  expect(ack.ok && ack.cells.length).toBe(100);
  c.disconnect();
  return Date.now() - began;
}

describe('batch:join of a huge batch', () => {
  it('a full v1 join answers with every one of its 1,000,000 cells, in one ack', async () => {
    const c = await client();
    const began = Date.now();
    const ack = await join(c, huge);
    const tookMs = Date.now() - began;
    if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
    expect(ack.batch).toMatchObject({ id: huge, status: 'completed', done: 1_000_000 });
    expect(ack.cells).toHaveLength(1_000_000);
    const seen = new Set<number>();
    for (const cell of ack.cells) {
      seen.add(cell.row * 1000 + cell.col);
      if ((cell.row * 1000 + cell.col) % 9973 === 0) expect(cell.color).toBe(expectedColor(cell.row, cell.col));
    }
    expect(seen.size).toBe(1_000_000);
    expect(ack.failedCells).toEqual([]);
    expect(ack.cellWorkers).toHaveLength(1_000_000);
    expect(ack.workers.toSorted()).toEqual(['w-0', 'w-1']);
    expect(ack.workers[ack.cellWorkers[0]]).toBe('w-0');
    expect(ack.workers[ack.cellWorkers[999_999]]).toBe('w-1');
    console.log(`full join of 1,000,000 cells: ${tookMs} ms; web server peak RSS so far ${mb(rss.peak)}`);
    expect(rss.peak).toBeLessThan(LIMIT_BYTES);
  }, 120_000);

  it('20 full joins from one socket that stops reading keep the server under 500 MB; other viewers stay live; the answers arrive whole once it reads', async () => {
    const proxy = await startProxy(Number(new URL(url).port));
    try {
      const attacker = await client(proxy.url);
      const acks: JoinAck[] = [];
      proxy.stall();
      for (let i = 0; i < 20; i++) attacker.emit('batch:join', huge, (ack: JoinAck) => acks.push(ack));

      // While the attacker reads nothing, other sockets join at once.
      const waits: number[] = [];
      for (let i = 0; i < 5; i++) waits.push(await bystanderJoin());
      console.log(`bystander joins while the attacker stalls: ${waits.join(', ')} ms; peak RSS ${mb(rss.peak)}`);
      expect(Math.max(...waits)).toBeLessThan(2_000);
      expect(rss.peak).toBeLessThan(LIMIT_BYTES);

      // Once it reads, its answers come one after another, each whole.
      proxy.unstall();
      await waitFor(() => acks.length >= 2, 'two of the attacker’s answers', 120_000);
      for (const ack of acks.slice(0, 2)) expect(ack.ok && ack.cells.length).toBe(1_000_000);
      waits.push(await bystanderJoin());
      console.log(`bystander join while the attacker reads: ${waits.at(-1)} ms; peak RSS ${mb(rss.peak)}`);
      expect(waits.at(-1)).toBeLessThan(2_000);
      acks.length = 0;
      attacker.disconnect();
    } finally {
      await proxy.close();
    }
    expect(web.proc.exitCode).toBeNull();
    expect(rss.peak).toBeLessThan(LIMIT_BYTES);
  }, 240_000);

  it('20 full joins from one socket that reads keep the server under 500 MB, and other viewers stay live', async () => {
    const attacker = await client();
    let answered = 0;
    for (let i = 0; i < 20; i++)
      attacker.emit('batch:join', huge, (ack: JoinAck) => void (ack.ok && ack.cells.length === 1_000_000 && answered++));
    const waits: number[] = [];
    await waitFor(
      async () => {
        waits.push(await bystanderJoin());
        return answered >= 3;
      },
      'three of the attacker’s answers',
      120_000,
    );
    attacker.disconnect();
    console.log(
      `bystander joins while a reading attacker is answered: max ${Math.max(...waits)} ms over ${waits.length}; peak RSS ${mb(rss.peak)}`,
    );
    expect(Math.max(...waits)).toBeLessThan(2_000);
    expect(web.proc.exitCode).toBeNull();
    expect(rss.peak).toBeLessThan(LIMIT_BYTES);
  }, 240_000);

  it('20 full joins from a socket on HTTP long-polling alone are answered whole, streamed, under 500 MB; other viewers stay live', async () => {
    // Engine.IO's long-polling spoken by hand: Node's XMLHttpRequest (socket.io-client's polling in
    // Node) copies its whole body at every chunk, too slow for a 40 MB answer; a browser's is not.
    const attacker = await rawPollingClient(url);
    await attacker.send(Array.from({ length: 20 }, (_, i) => `42${i}["batch:join","${huge}"]`));
    let answered = 0;
    const refused: string[] = [];
    const reading = (async () => {
      while (answered < 3 && refused.length === 0) {
        for (const packet of await attacker.poll()) {
          if (packet === '2') await attacker.send(['3']);
          const ack = /^43\d+\[/.exec(packet) ? (JSON.parse(packet.slice(packet.indexOf('['))) as [JoinAck])[0] : null;
          if (ack?.ok && ack.cells.length === 1_000_000) answered++;
          else if (ack) refused.push(ack.ok ? `${ack.cells.length} cells` : ack.error.code);
        }
      }
    })();
    const waits: number[] = [];
    await waitFor(
      async () => {
        waits.push(await bystanderJoin());
        return answered >= 3 || refused.length > 0;
      },
      'three of the long-polling attacker’s answers',
      180_000,
    );
    await reading;
    console.log(
      `bystander joins while a long-polling attacker is answered: max ${Math.max(...waits)} ms over ${waits.length}; peak RSS ${mb(rss.peak)}`,
    );
    expect(refused).toEqual([]);
    expect(Math.max(...waits)).toBeLessThan(2_000);
    expect(web.proc.exitCode).toBeNull();
    expect(rss.peak).toBeLessThan(LIMIT_BYTES);
  }, 240_000);
});

/** A Socket.IO connection on HTTP long-polling, by hand: `send` posts packets, `poll` reads the next GET's. */
async function rawPollingClient(base: string) {
  const endpoint = `${base}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(endpoint)).text();
  const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
  const at = `${endpoint}&sid=${sid}`;
  // A kept-alive connection the server closes as idle just as a request goes out on it fails that
  // request before the server read it: sent again, once, on a fresh connection.
  const request = (init?: RequestInit) => fetch(at, init).catch(() => fetch(at, init));
  const client = {
    send: async (packets: string[]) => {
      const answer = await request({
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: packets.join('\x1e'),
      });
      expect(answer.status).toBe(200);
    },
    poll: async () => (await (await request()).text()).split('\x1e'),
  };
  await client.send(['40']);
  expect((await client.poll())[0]).toMatch(/^40/);
  return client;
}
