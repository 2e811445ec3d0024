import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ADDRESS_HEADER, clientKeyOf } from '../../web/http/client-address';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { type Answer, createdCounts, postBatch, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, type WorkerProcess } from '../helpers/processes';

// Per-client limits, counted in Postgres so that they hold across web servers. Two web servers
// behind a "proxy" (TRUST_PROXY: each test is its own client by X-Forwarded-For) allow 3 creations
// a minute; a third, direct one allows 2 running batches to 127.0.0.1. No workers: batches stay
// running until cancelled.

let db: TestDatabase;
const servers: WorkerProcess[] = [];
const proxied: string[] = [];
let direct: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const ports = [await freePort(), await freePort(), await freePort()];
  // Two proxy hops: the test plays the inner proxy, so '10.0.0.1, 192.168.1.1' is client 10.0.0.1
  // seen through an outer proxy at 192.168.1.1 (a one-entry header is its own client).
  const perMinute = { TRUST_PROXY: '2', BATCHES_PER_MINUTE: '3', RUNNING_BATCHES_PER_CLIENT: '1000' };
  servers.push(
    ...(await Promise.all([
      startWebServer(db.url, ports[0], perMinute),
      startWebServer(db.url, ports[1], perMinute),
      startWebServer(db.url, ports[2], { BATCHES_PER_MINUTE: '1000', RUNNING_BATCHES_PER_CLIENT: '2' }),
    ])),
  );
  proxied.push(`http://127.0.0.1:${ports[0]}`, `http://127.0.0.1:${ports[1]}`);
  direct = `http://127.0.0.1:${ports[2]}`;
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await db?.drop();
});

const keyOf = (address: string) => clientKeyOf(new Request('http://x/', { headers: { [CLIENT_ADDRESS_HEADER]: address } }));

async function batchesOf(address: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from batches where client_key = $1', [keyOf(address)]);
  return rows[0].n;
}

function expect429(answer: Answer, code: 'rate_limited' | 'too_many_running', retryAfter: (seconds: number) => boolean) {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status: 429, code });
  const header = answer.headers.get('retry-after');
  expect(header).toMatch(/^\d+$/);
  expect(retryAfter(Number(header))).toBe(true);
}

describe('batch creations per minute (BATCHES_PER_MINUTE=3)', () => {
  it('the fourth creation in a minute is 429 rate_limited with Retry-After, and creates nothing', async () => {
    const client = { 'x-forwarded-for': '10.0.0.1, 192.168.1.1' };
    for (let i = 0; i < 3; i++) expect((await postBatch(proxied[0], { rows: 2, cols: 2 }, client)).status).toBe(201);
    const before = await createdCounts(db.pool);
    const refused = await postBatch(proxied[0], { rows: 2, cols: 2 }, client);
    expect429(refused, 'rate_limited', (s) => s >= 1 && s <= 60);
    expect(refused.body.error.message).toMatch(/try again in \d+ s/);
    expect(await createdCounts(db.pool)).toEqual(before);
    expect(await batchesOf('10.0.0.1')).toBe(3);

    // The window slides: once those creations are a minute old, the client may start again.
    await db.pool.query(`update batches set created_at = created_at - interval '61 seconds' where client_key = $1`, [keyOf('10.0.0.1')]);
    expect((await postBatch(proxied[0], { rows: 2, cols: 2 }, client)).status).toBe(201);
  });

  it('Retry-After counts down to when the oldest creation of the minute leaves the window', async () => {
    const client = { 'x-forwarded-for': '10.0.0.2' };
    for (let i = 0; i < 3; i++) expect((await postBatch(proxied[0], { rows: 1, cols: 1 }, client)).status).toBe(201);
    await db.pool.query(`update batches set created_at = now() - interval '50 seconds' where client_key = $1`, [keyOf('10.0.0.2')]);
    expect429(await postBatch(proxied[0], { rows: 1, cols: 1 }, client), 'rate_limited', (s) => s >= 9 && s <= 11);
  });

  it('replays of an Idempotency-Key are not new creations, even at the limit', async () => {
    const client = { 'x-forwarded-for': '10.0.0.3' };
    const first = await postBatch(proxied[0], { rows: 1, cols: 1 }, { ...client, 'idempotency-key': 'limits-replay-1' });
    expect(first.status).toBe(201);
    for (let i = 0; i < 5; i++) {
      const replay = await postBatch(proxied[i % 2], { rows: 1, cols: 1 }, { ...client, 'idempotency-key': 'limits-replay-1' });
      expect(replay.status).toBe(200);
      expect(replay.body.id).toBe(first.body.id);
    }
    expect((await postBatch(proxied[0], { rows: 1, cols: 1 }, client)).status).toBe(201);
    expect((await postBatch(proxied[0], { rows: 1, cols: 1 }, client)).status).toBe(201);
    expect429(
      await postBatch(proxied[0], { rows: 1, cols: 1 }, { ...client, 'idempotency-key': 'limits-replay-new' }),
      'rate_limited',
      (s) => s >= 1,
    );
    // At the limit, the old key still answers with its batch.
    const late = await postBatch(proxied[1], { rows: 1, cols: 1 }, { ...client, 'idempotency-key': 'limits-replay-1' });
    expect([late.status, late.body.id]).toEqual([200, first.body.id]);
    expect(await batchesOf('10.0.0.3')).toBe(3);
  });

  it('twelve parallel POSTs of one client spread over two web servers create exactly three batches', async () => {
    const client = { 'x-forwarded-for': '10.0.0.4' };
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => postBatch(proxied[i % 2], { rows: 3, cols: 3 }, client)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 201, 201, ...Array(9).fill(429)]);
    for (const refused of answers.filter((a) => a.status === 429)) expect(refused.body.error.code).toBe('rate_limited');
    expect(await batchesOf('10.0.0.4')).toBe(3);
  });

  it('each client has its own count; the internal client header cannot be spoofed to escape it', async () => {
    const client = { 'x-forwarded-for': '10.0.0.5' };
    for (let i = 0; i < 3; i++) expect((await postBatch(proxied[0], { rows: 1, cols: 1 }, client)).status).toBe(201);
    expect429(
      await postBatch(proxied[0], { rows: 1, cols: 1 }, { ...client, [CLIENT_ADDRESS_HEADER]: '10.99.99.99' }),
      'rate_limited',
      (s) => s >= 1,
    );
    expect((await postBatch(proxied[0], { rows: 1, cols: 1 }, { 'x-forwarded-for': '10.0.0.6' })).status).toBe(201);
  });

  it('the batch row keeps a hash of the client, never its address', async () => {
    const { rows } = await db.pool.query<{ client_key: string }>('select distinct client_key from batches where client_key is not null');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.client_key).toMatch(/^[0-9a-f]{64}$/);
      expect(row.client_key).not.toContain('10.0.0');
    }
  });
});

describe('running batches at once (RUNNING_BATCHES_PER_CLIENT=2), without TRUST_PROXY', () => {
  it('the third running batch is 429 too_many_running with Retry-After; X-Forwarded-For and the internal header change nothing; cancelling frees a slot', async () => {
    const first = await postBatch(direct, { rows: 5, cols: 5 });
    expect(first.status).toBe(201);
    const cookie = sessionCookieOf(first)!;
    expect((await postBatch(direct, { rows: 5, cols: 5 }, { cookie })).status).toBe(201);

    const before = await createdCounts(db.pool);
    expect429(await postBatch(direct, { rows: 5, cols: 5 }, { cookie }), 'too_many_running', (s) => s >= 1 && s <= 60);
    expect429(await postBatch(direct, { rows: 5, cols: 5 }, { 'x-forwarded-for': '10.1.1.1' }), 'too_many_running', (s) => s >= 1);
    expect429(await postBatch(direct, { rows: 5, cols: 5 }, { [CLIENT_ADDRESS_HEADER]: '10.1.1.2' }), 'too_many_running', (s) => s >= 1);
    expect(await createdCounts(db.pool)).toEqual(before);
    expect(await batchesOf('127.0.0.1')).toBe(2);

    expect((await send(`${direct}/api/batches/${first.body.id}/cancel`, { method: 'POST', headers: { cookie } })).status).toBe(200);
    expect((await postBatch(direct, { rows: 5, cols: 5 }, { cookie })).status).toBe(201);
    expect(await batchesOf('127.0.0.1')).toBe(3);
  });

  it('validation errors are answered before limits and count as nothing', async () => {
    const bad = await postBatch(direct, { rows: 0, cols: 5 });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_input']);
  });
});
