import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readCells, type CellsBody } from '../../app/client/cells-read';

const BODY: CellsBody = { cells: [{ row: 0, col: 1, color: '#123456' }], workers: ['w-1'], cellWorkers: [0] };

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A real HTTP server answering each request with the next status in `statuses` (the last one repeats). */
async function serve(statuses: number[]): Promise<{ url: string; requests: () => number }> {
  let n = 0;
  server = createServer((_req, res) => {
    const status = statuses[Math.min(n++, statuses.length - 1)];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? JSON.stringify(BODY) : '{"error":{"code":"x","message":"x"}}');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cells`, requests: () => n };
}

describe('readCells: a large batch’s finished cells over HTTP', () => {
  it('tries again after a server error or a rate limit, until a read lands', async () => {
    const { url, requests } = await serve([503, 429, 200]);
    const read: CellsBody[] = [];
    await readCells(url, new AbortController().signal, (body) => read.push(body), 10);
    expect(read).toEqual([BODY]);
    expect(requests()).toBe(3);
  });

  it('gives up at once on an answer that will not change (404)', async () => {
    const { url, requests } = await serve([404]);
    const read: CellsBody[] = [];
    await readCells(url, new AbortController().signal, (body) => read.push(body), 10);
    expect(read).toEqual([]);
    expect(requests()).toBe(1);
  });

  it('stops waiting to try again once the follower stops', async () => {
    const { url, requests } = await serve([503]);
    const aborter = new AbortController();
    const done = readCells(url, aborter.signal, () => undefined, 60_000);
    // The first read has been refused: the reader is now in its minute-long wait.
    while (requests() < 1) await new Promise((resolve) => setImmediate(resolve));
    aborter.abort();
    await expect(done).resolves.toBeUndefined();
  });
});
