import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports';
import { insertBatch } from '../../lib/db/batches';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startWebServer, type WorkerProcess } from '../helpers/processes';
import { connectClient } from '../helpers/realtime';
import { expectConverged, follow } from '../helpers/follower';
import { INLINE_CELLS } from '../../app/client/batch-follower';
import type { JoinAck } from '../../lib/realtime/events';

// GET /api/batches/:id/cells on a real web server, for batches larger than one read of the cells
// table: the answer is written page by page and must still be the whole list, once per cell. And
// the join that leaves the coloured cells to it, which is how the page reads a large batch.

let db: TestDatabase;
let server: WorkerProcess;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(db.url, port);
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/**
 * A batch whose cells are written straight into the table: three workers, a colour made from each
 * cell's position, and whole rows `failedRows` failed (no colour). No jobs, no workers running.
 */
async function storedBatch(rows: number, cols: number, failedRows: [number, number] | null): Promise<string> {
  const id = randomUUID();
  await insertBatch(db.pool, { id, rows, cols, deadlineSeconds: 600 });
  const [from, to] = failedRows ?? [-1, -1];
  await db.pool.query(
    `insert into cells (batch_id, row_no, col_no, color, error, worker_id, recording)
     select $1, r, c,
            case when r between $4 and $5 then null else '#' || upper(lpad(to_hex((r * 7919 + c * 31) % 16777216), 6, '0')) end,
            case when r between $4 and $5 then 'boom' end,
            'worker-' || ((r + c) % 3), 1
       from generate_series(0, $2 - 1) r, generate_series(0, $3 - 1) c`,
    [id, rows, cols, from, to],
  );
  await db.pool.query(
    `update batches set done = (select count(color) from cells where batch_id = $1),
                        failed = (select count(error) from cells where batch_id = $1)
      where id = $1`,
    [id],
  );
  return id;
}

/** A GET as it comes off the wire (fetch would decompress it), with its headers and body bytes. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function storedColours(batchId: string): Promise<Map<string, string>> {
  const { rows } = await db.pool.query<{ key: string; value: string }>(
    `select row_no || ':' || col_no as key, color || ' by ' || worker_id as value from cells where batch_id = $1 and color is not null`,
    [batchId],
  );
  return new Map(rows.map((r) => [r.key, r.value]));
}

interface CellsAnswer {
  cells: { row: number; col: number; color: string }[];
  workers: string[];
  cellWorkers: number[];
}

/** The answer's cells as "row:col" → "colour by worker", failing on any cell listed twice. */
function listed(answer: CellsAnswer): Map<string, string> {
  expect(answer.cellWorkers).toHaveLength(answer.cells.length);
  const byCell = new Map(answer.cells.map((c, k) => [`${c.row}:${c.col}`, `${c.color} by ${answer.workers[answer.cellWorkers[k]]}`]));
  expect(byCell.size).toBe(answer.cells.length);
  return byCell;
}

describe('GET /api/batches/:id/cells', () => {
  it('lists every coloured cell of a batch spanning several reads, each once, with its worker', async () => {
    // 25,000 cells, with 10,000 failed ones in the middle that the list leaves out.
    const id = await storedBatch(250, 100, [100, 199]);
    const response = await fetch(`${base}/api/batches/${id}/cells`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const answer = (await response.json()) as CellsAnswer;
    expect(answer.cells).toHaveLength(15_000);
    expect(answer.workers.sort()).toEqual(['worker-0', 'worker-1', 'worker-2']);
    expect(listed(answer)).toEqual(await storedColours(id));
  });

  it('is gzip-compressed for a client that accepts gzip, and the same JSON; plain for one that does not', async () => {
    const id = await storedBatch(200, 100, null);
    const raw = async (acceptEncoding: string | null) => {
      const headers: Record<string, string> = acceptEncoding ? { 'accept-encoding': acceptEncoding } : {};
      const answer = await rawGet(`${base}/api/batches/${id}/cells`, headers);
      expect(answer.status).toBe(200);
      expect(answer.headers.vary).toMatch(/accept-encoding/i);
      return answer;
    };
    const plain = await raw(null);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const refused = await raw('gzip;q=0, br');
    expect(refused.headers['content-encoding']).toBeUndefined();
    const zipped = await raw('gzip, deflate, br');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(listed(JSON.parse(plain.body.toString()) as CellsAnswer)).toEqual(await storedColours(id));
    // 20,000 cells: about 800 KB of JSON, a tenth of it or less on the wire.
    expect(zipped.body.length).toBeLessThan(plain.body.length / 5);
    console.log(`GET …/cells of 20,000 cells: ${plain.body.length} bytes, ${zipped.body.length} gzipped`);
  });

  it('answers a batch without finished cells with empty lists', async () => {
    const id = randomUUID();
    await insertBatch(db.pool, { id, rows: 2, cols: 2, deadlineSeconds: 600 });
    const answer = await (await fetch(`${base}/api/batches/${id}/cells`)).json();
    expect(answer).toEqual({ cells: [], workers: [], cellWorkers: [] });
  });

  it('answers a batch whose cells all failed with empty lists', async () => {
    const id = await storedBatch(3, 4, [0, 2]);
    const answer = await (await fetch(`${base}/api/batches/${id}/cells`)).json();
    expect(answer).toEqual({ cells: [], workers: [], cellWorkers: [] });
  });
});

describe('batch:join with maxCells', () => {
  it('past maxCells finished cells, answers without the coloured ones (left to GET …/cells) and says so', async () => {
    const id = await storedBatch(30, 40, [10, 11]); // 1,120 coloured, 80 failed
    const socket = await connectClient(base);
    try {
      const ask = async (options: object) => {
        const ack = await new Promise<JoinAck>((resolve) => socket.emit('batch:join', id, options, resolve));
        if (!ack.ok) throw new Error(`join refused: ${ack.error.code}`);
        return ack;
      };
      const lean = await ask({ maxCells: 1119 });
      expect(lean.cellsOmitted).toBe(true);
      expect(lean.batch.id).toBe(id);
      expect({ cells: lean.cells, workers: lean.workers, cellWorkers: lean.cellWorkers }).toEqual({
        cells: [],
        workers: [],
        cellWorkers: [],
      });
      expect(lean.failedCells).toHaveLength(80);
      expect(new Set(lean.failedCells.map((c) => c.row))).toEqual(new Set([10, 11]));
      expect(lean.seq).toBe(lean.batch.seq);

      // At the limit, and without the option (the contract's join), the whole snapshot.
      for (const options of [{ maxCells: 1120 }, {}, { maxCells: 'all' }]) {
        const full = await ask(options);
        expect(full.cellsOmitted).toBe(false);
        expect(full.cells).toHaveLength(1120);
        expect(full.failedCells).toHaveLength(80);
      }
    } finally {
      socket.disconnect();
    }
  });
});

describe("the page's follower on a batch too large for one join answer", () => {
  it('joins without the coloured cells, reads them over HTTP, and only then shows the end', async () => {
    const id = await storedBatch(250, 250, [0, 0]); // 62,250 coloured, 250 failed
    await db.pool.query(`update batches set status = 'completed', finished_at = now() where id = $1`, [id]);
    expect(62_250).toBeGreaterThan(INLINE_CELLS);

    const f = follow(base, id, { apiBase: base });
    try {
      const joins: unknown[] = [];
      f.socket.onAnyOutgoing((event, _id, options) => event === 'batch:join' && joins.push(options));
      await expectConverged(db, f.follower, id);
      expect(joins[0]).toEqual({ maxCells: INLINE_CELLS });
      const view = f.follower.view();
      expect({ finished: view.finished, failed: view.failed, loadingCells: view.loadingCells }).toEqual({
        finished: 62_250,
        failed: 250,
        loadingCells: false,
      });
    } finally {
      f.close();
    }
  });
});
