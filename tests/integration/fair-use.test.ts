import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeCells } from '../../lib/db/admission';
import { CLIENT_ADDRESS_HEADER, clientKeyOf } from '../../web/http/client-address';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { type Answer, createdCounts, postBatch, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, type WorkerProcess } from '../helpers/processes';

// Fair use through a real web server behind one trusted proxy (TRUST_PROXY=1: the test plays the
// proxy, so the right-most X-Forwarded-For entry is the address the proxy saw, and anything left of
// it is whatever the client wrote). Two creations a minute per client, a global cap of 1,000 queued
// and running cells, and priorities above 10 for the operator only. No workers: batches stay running.

const TOKEN = 'fair-use-operator-token';
let db: TestDatabase;
let server: WorkerProcess;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  server = await startWebServer(db.url, port, {
    TRUST_PROXY: '1',
    BATCHES_PER_MINUTE: '2',
    RUNNING_BATCHES_PER_CLIENT: '1000',
    MAX_CELLS: '1000',
    MAX_ACTIVE_CELLS: '1000',
    MAX_PUBLIC_PRIORITY: '10',
    DASHBOARD_TOKEN: TOKEN,
  });
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const keyOf = (address: string) => clientKeyOf(new Request('http://x/', { headers: { [CLIENT_ADDRESS_HEADER]: address } }));
const randomIp = () => `${randomInt(1, 224)}.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const via = (forwardedFor: string) => ({ 'x-forwarded-for': forwardedFor });

async function batchesOf(address: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from batches where client_key = $1', [keyOf(address)]);
  return rows[0].n;
}

function statusAndCode(answer: Answer) {
  return { status: answer.status, code: answer.body?.error?.code as string | undefined };
}

describe('the client behind a trusted proxy', () => {
  it('a random X-Forwarded-For per POST no longer gives a fresh bucket: the right-most untrusted hop is the client', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 5; i++) answers.push(await postBatch(base, { rows: 1, cols: 1 }, via(`${randomIp()}, ${randomIp()}, 203.0.113.7`)));
    expect(answers.map(statusAndCode)).toEqual([
      { status: 201, code: undefined },
      { status: 201, code: undefined },
      ...Array(3).fill({ status: 429, code: 'rate_limited' }),
    ]);
    expect(await batchesOf('203.0.113.7')).toBe(2);
    // The one-entry header of another client is that client.
    expect((await postBatch(base, { rows: 1, cols: 1 }, via('203.0.113.8'))).status).toBe(201);
    expect(await batchesOf('203.0.113.8')).toBe(1);
  });

  it('groups IPv6 clients by /64', async () => {
    const answers = [
      await postBatch(base, { rows: 1, cols: 1 }, via(`${randomIp()}, 2001:db8:1:2::a`)),
      await postBatch(base, { rows: 1, cols: 1 }, via('2001:DB8:1:2:ffff::b')),
      await postBatch(base, { rows: 1, cols: 1 }, via(`${randomIp()}, 2001:db8:1:2:1234:5678:9abc:def0`)),
    ];
    expect(answers.map(statusAndCode)).toEqual([
      { status: 201, code: undefined },
      { status: 201, code: undefined },
      { status: 429, code: 'rate_limited' },
    ]);
    expect(await batchesOf('2001:db8:1:2::1')).toBe(2);
    // The next /64 is another client.
    expect((await postBatch(base, { rows: 1, cols: 1 }, via('2001:db8:1:3::a'))).status).toBe(201);
  });

  it('an X-Forwarded-For entry that is not an IP address counts as the socket peer', async () => {
    const statuses: number[] = [];
    for (const header of ['garbage', 'also garbage', '300.1.1.1'])
      statuses.push((await postBatch(base, { rows: 1, cols: 1 }, via(header))).status);
    expect(statuses).toEqual([201, 201, 429]);
    expect(await batchesOf('127.0.0.1')).toBe(2);
  });
});

describe('the global cap on queued and running cells (MAX_ACTIVE_CELLS=1000)', () => {
  it('past the cap, POST /api/batches is 503 busy with Retry-After and creates nothing; room again once cells end', async () => {
    const room = 1000 - (await activeCells(db.pool));
    expect(room).toBeGreaterThan(10);
    const filler = await postBatch(base, { rows: 1, cols: room }, via('198.51.100.1'));
    expect(filler.status).toBe(201);
    expect(await activeCells(db.pool)).toBe(1000);

    const before = await createdCounts(db.pool);
    const refused = await postBatch(base, { rows: 1, cols: 1 }, via('198.51.100.2'));
    expect(statusAndCode(refused)).toEqual({ status: 503, code: 'busy' });
    expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(refused.body.error.message).toMatch(/try again in \d+ s/);
    // An operator is held to the cap like everyone: it protects the workers and the disk.
    expect((await postBatch(base, { rows: 1, cols: 1 }, { ...via('198.51.100.3'), authorization: `Bearer ${TOKEN}` })).status).toBe(503);
    expect(await createdCounts(db.pool)).toEqual(before);
    // It did not count against the client's own limits either.
    expect(await batchesOf('198.51.100.2')).toBe(0);

    const cookie = sessionCookieOf(filler)!;
    expect(
      (await send(`${base}/api/batches/${filler.body.id}/cancel`, { method: 'POST', headers: { cookie, ...via('198.51.100.1') } })).status,
    ).toBe(200);
    expect((await postBatch(base, { rows: 1, cols: 1 }, via('198.51.100.2'))).status).toBe(201);
  });
});

describe('the priority ceiling (MAX_PUBLIC_PRIORITY=10)', () => {
  it('anyone may ask for a priority up to the ceiling', async () => {
    const answer = await postBatch(base, { rows: 1, cols: 1, priority: 10 }, via('192.0.2.10'));
    expect([answer.status, answer.body.priority]).toEqual([201, 10]);
  });

  it('above it, a request without the operator token is 403 forbidden and creates nothing', async () => {
    const before = await createdCounts(db.pool);
    // The token counts only as `Authorization: Bearer <token>`, as for cancel and /metrics (one rule).
    const refusals = [
      via('192.0.2.11'),
      { ...via('192.0.2.12'), authorization: 'Bearer not-the-token' },
      { ...via('192.0.2.14'), authorization: TOKEN },
    ];
    for (const headers of refusals) {
      const refused = await postBatch(base, { rows: 1, cols: 1, priority: 11 }, headers);
      expect(statusAndCode(refused)).toEqual({ status: 403, code: 'forbidden' });
      expect(refused.body.error.message).toMatch(/above 10 are for operators/);
    }
    expect(await createdCounts(db.pool)).toEqual(before);
  });

  it('the operator may ask for any priority', async () => {
    const answer = await postBatch(base, { rows: 1, cols: 1, priority: 100 }, { ...via('192.0.2.13'), authorization: `Bearer ${TOKEN}` });
    expect([answer.status, answer.body.priority]).toEqual([201, 100]);
  });
});
