import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import type { JoinAck } from '../../lib/realtime/events';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { createdCounts, LEAK, parseRaw, rawRequest, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, record, type TestClient } from '../helpers/realtime';

/**
 * Hostile inputs against the app as it runs: a real web server (Next.js routes + Socket.IO) on a
 * real database. Every row of the table is one input; each asserts the status (or the socket's
 * answer), the error code, that no batch and no job was created, that no stack trace or SQL leaked,
 * and that /healthz still answers. At the end a normal batch still starts and completes. The table
 * of inputs and outcomes is printed and written to test-results/hostile-inputs.md.
 */

let db: TestDatabase;
let server: WorkerProcess;
let worker: WorkerProcess | undefined;
let port: number;
let base: string;
/** A batch that exists (started through the library), for inputs that need a real id. */
let existing: Batch;
/** The cookie of the session that owns a batch started through the API. */
let owned: { id: string; cookie: string };

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // With an operator token, as a server open to strangers has: without one, a local-only server makes
  // every caller an operator, and the cancels below would all go through.
  server = await startWebServer(db.url, port, {
    MAX_CELLS: '250000',
    ALLOWED_ORIGINS: 'https://allowed.example',
    DASHBOARD_TOKEN: 'hostile-inputs-operator-token',
  });
  existing = (
    await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, { rows: 2, cols: 2 })
  ).batch;
  const created = await send(`${base}/api/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"rows":2,"cols":2}',
  });
  owned = { id: created.body.id, cookie: sessionCookieOf(created)! };
});

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  await db?.drop();
});

/** What one hostile input produced: an HTTP status and code, or a socket ack code, or a disconnect. */
interface Outcome {
  status?: number;
  code: string | null;
  /** Every text the server sent back, checked for leaks. */
  texts: string[];
  disconnected?: boolean;
}

interface Hostile {
  surface: 'HTTP' | 'HTTP raw' | 'Socket.IO';
  input: string;
  expected: { status?: number; code: string | null; disconnected?: boolean };
  run(): Promise<Outcome>;
}

// ---- HTTP ------------------------------------------------------------------------------------

interface HttpRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: BodyInit;
}

/** `request` may be a function: some requests name a batch that exists only once the server is up. */
function http(input: string, requestOrLater: HttpRequest | (() => HttpRequest), status: number, code: string | null): Hostile {
  return {
    surface: 'HTTP',
    input,
    expected: { status, code },
    run: async () => {
      const request = typeof requestOrLater === 'function' ? requestOrLater() : requestOrLater;
      const init: RequestInit & { duplex?: 'half' } = { method: request.method ?? 'POST', headers: request.headers, body: request.body };
      if (request.body instanceof ReadableStream) init.duplex = 'half';
      const answer = await send(`${base}${request.path ?? '/api/batches'}`, init);
      if (answer.text && answer.status >= 400) expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      return { status: answer.status, code: answer.body?.error?.code ?? null, texts: [answer.text] };
    },
  };
}

const json = (body: string, headers: Record<string, string> = {}) => ({
  headers: { 'content-type': 'application/json', ...headers },
  body,
});
const post = (input: string, body: string, code = 'invalid_input', status = 400) => http(input, json(body), status, code);
const get = (input: string, path: string, status: number, code: string | null) => http(input, { method: 'GET', path }, status, code);

function raw(input: string, request: string | Buffer, status: number, code: string): Hostile {
  return {
    surface: 'HTTP raw',
    input,
    expected: { status, code },
    run: async () => {
      const answer = parseRaw(await rawRequest(port, request));
      return { status: answer.status, code: answer.body?.error?.code ?? null, texts: [answer.head, JSON.stringify(answer.body ?? '')] };
    },
  };
}

const rawPost = (headers: string, body: string | Buffer = '') =>
  Buffer.concat([
    Buffer.from(`POST /api/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers}\r\n`, 'latin1'),
    Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'),
  ]);

function hugeStream(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      sent += 64 * 1024;
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
    },
  });
}

// ---- Socket.IO -------------------------------------------------------------------------------

function socketCase(input: string, expected: Hostile['expected'], act: (socket: TestClient) => Promise<JoinAck | null>): Hostile {
  return {
    surface: 'Socket.IO',
    input,
    expected,
    run: async () => {
      const socket = await connectClient(base);
      let disconnected = false;
      socket.on('disconnect', () => (disconnected = true));
      try {
        const ack = await act(socket);
        if (expected.disconnected) await waitFor(() => disconnected, 'the server to drop the socket', 10_000);
        return { code: ack && !ack.ok ? ack.error.code : ack?.ok ? 'ok' : null, texts: [JSON.stringify(ack ?? '')], disconnected };
      } finally {
        socket.disconnect();
      }
    },
  };
}

/** Emits `batch:join` with any arguments at all and waits for the ack (or gives up on none). */
function joinWith(socket: TestClient, ...args: unknown[]): Promise<JoinAck | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 3_000);
    (socket.emit as (...a: unknown[]) => void)('batch:join', ...args, (ack: JoinAck) => {
      clearTimeout(timer);
      resolve(ack);
    });
  });
}

const joinId = (input: string, id: unknown) => socketCase(input, { code: 'not_found' }, (s) => joinWith(s, id));

function nested(depth: number, leaf: string): string {
  return '['.repeat(depth) + leaf + ']'.repeat(depth);
}

const UUID_UNKNOWN = '3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61';

const CASES: Hostile[] = [
  // Wrong types in the body
  post('rows as a string "5"', '{"rows":"5","cols":5}'),
  post('rows true', '{"rows":true,"cols":5}'),
  post('rows null', '{"rows":null,"cols":5}'),
  post('rows as an array [5]', '{"rows":[5],"cols":5}'),
  post('rows as an operator object {"$gt":0}', '{"rows":{"$gt":0},"cols":5}'),
  post('rows as a hex string "0x10"', '{"rows":"0x10","cols":5}'),
  post('rows "NaN"', '{"rows":"NaN","cols":5}'),
  post('rows "Infinity"', '{"rows":"Infinity","cols":5}'),
  // Huge and odd numbers
  post('rows 1e308', '{"rows":1e308,"cols":1}'),
  post('rows 1e999 (parses to Infinity)', '{"rows":1e999,"cols":1}'),
  post('rows 2^53+1', '{"rows":9007199254740993,"cols":1}'),
  post('rows -0', '{"rows":-0,"cols":5}'),
  post('rows -1', '{"rows":-1,"cols":5}'),
  post('cols 1.5', '{"rows":5,"cols":1.5}'),
  post('cols 1001', '{"rows":5,"cols":1001}'),
  post('1000 × 1000 over MAX_CELLS=250000', '{"rows":1000,"cols":1000}', 'too_many_cells'),
  post('deadlineSeconds 1e9', '{"rows":5,"cols":5,"deadlineSeconds":1000000000}'),
  post('deadlineSeconds "60"', '{"rows":5,"cols":5,"deadlineSeconds":"60"}'),
  // Malformed and odd JSON
  post('malformed JSON {"rows":5,', '{"rows":5,'),
  post('empty body', ''),
  post('body null', 'null'),
  post('body a JSON string', '"rows=5&cols=5"'),
  post('body a JSON array [5,5]', '[5,5]'),
  post('trailing garbage after the object', '{"rows":5,"cols":5} x'),
  post('single-quoted pseudo-JSON', "{'rows':5,'cols':5}"),
  post('deep nesting: 500-level array', nested(500, '1')),
  post('deep nesting: rows as a 100-level object', `{"rows":${'{"a":'.repeat(100)}1${'}'.repeat(100)},"cols":5}`),
  post('120 unknown fields', `{${Array.from({ length: 120 }, (_, i) => `"f${i}":0`).join(',')}}`),
  post('NUL-character field name', '{"rows":5,"cols":5,"\\u0000":1}'),
  post('right-to-left override in a field name', '{"rows":5,"cols":5,"\\u202erows":1}'),
  // Prototype pollution
  post('__proto__ key', '{"rows":5,"cols":5,"__proto__":{"admin":true}}'),
  post('constructor key', '{"rows":5,"cols":5,"constructor":{"prototype":{"admin":true}}}'),
  post('prototype key', '{"rows":5,"cols":5,"prototype":{"admin":true}}'),
  post('__proto__ as the only key, carrying rows and cols', '{"__proto__":{"rows":5,"cols":5}}'),
  // SQL and script fragments
  post('SQL in rows', '{"rows":"1; drop table batches; --","cols":5}'),
  post('SQL as a field name', '{"rows":5,"cols":5,"cols) values (1,1); drop table batches; --":1}'),
  http(
    'SQL in Idempotency-Key (with spaces)',
    json('{"rows":5,"cols":5}', { 'idempotency-key': "'; drop table batches; --" }),
    400,
    'invalid_input',
  ),
  http(
    'Idempotency-Key of 10,000 characters',
    json('{"rows":5,"cols":5}', { 'idempotency-key': 'k'.repeat(10_000) }),
    400,
    'invalid_input',
  ),
  http('Idempotency-Key of 201 characters', json('{"rows":5,"cols":5}', { 'idempotency-key': 'k'.repeat(201) }), 400, 'invalid_input'),
  raw(
    'Idempotency-Key with non-ASCII bytes',
    rawPost('Content-Type: application/json\r\nContent-Length: 19\r\nIdempotency-Key: cl\xe9\xff\r\n', '{"rows":5,"cols":5}'),
    400,
    'invalid_input',
  ),
  get("SQL in a path id: ' OR 1=1 --", `/api/batches/${encodeURIComponent("' OR 1=1 --")}`, 404, 'not_found'),
  get('script in a path id', `/api/batches/${encodeURIComponent('<script>alert(1)</script>')}`, 404, 'not_found'),
  get('path id of 5,000 characters', `/api/batches/${'a'.repeat(5000)}/cells`, 404, 'not_found'),
  get('path traversal in an id', '/api/batches/..%2F..%2Fetc%2Fpasswd', 404, 'not_found'),
  get('NUL byte in an id', '/api/batches/%00', 404, 'not_found'),
  get('broken percent-encoding in a path', '/api/batches/%E0%A4%A', 400, 'bad_request'),
  http(
    'cancel with SQL in the id',
    { method: 'POST', path: `/api/batches/${encodeURIComponent('1;drop table batches')}/cancel` },
    404,
    'not_found',
  ),
  http(
    'cancel an unknown id in upper case',
    { method: 'POST', path: `/api/batches/${UUID_UNKNOWN.toUpperCase()}/cancel` },
    404,
    'not_found',
  ),
  // Query strings
  get('limit=-1', '/api/batches?limit=-1', 400, 'invalid_input'),
  get('limit=1e308', '/api/batches?limit=1e308', 400, 'invalid_input'),
  get('limit=99999999999999999999', '/api/batches?limit=99999999999999999999', 400, 'invalid_input'),
  get('limit=5;drop table batches', `/api/batches?limit=${encodeURIComponent('5;drop table batches')}`, 400, 'invalid_input'),
  get('limit given twice', '/api/batches?limit=1&limit=100', 400, 'invalid_input'),
  get('limit[]=5', '/api/batches?limit[]=5', 400, 'invalid_input'),
  http(
    'unknown query parameter on POST (?admin=true)',
    { ...json('{"rows":5,"cols":5}'), path: '/api/batches?admin=true' },
    400,
    'invalid_input',
  ),
  // Content types, sizes, bytes
  http(
    'Content-Type text/plain',
    { headers: { 'content-type': 'text/plain' }, body: '{"rows":5,"cols":5}' },
    415,
    'unsupported_media_type',
  ),
  http('no Content-Type', { body: new Uint8Array(Buffer.from('{"rows":5,"cols":5}')) }, 415, 'unsupported_media_type'),
  http(
    'Content-Type form-urlencoded',
    { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'rows=5&cols=5' },
    415,
    'unsupported_media_type',
  ),
  http(
    'Content-Type JSON in UTF-16',
    { headers: { 'content-type': 'application/json; charset=utf-16' }, body: '{"rows":5,"cols":5}' },
    415,
    'unsupported_media_type',
  ),
  http(
    'Content-Type application/jsonp',
    { headers: { 'content-type': 'application/jsonp' }, body: '{"rows":5,"cols":5}' },
    415,
    'unsupported_media_type',
  ),
  http('2 MB body', json(`{"rows":5,"cols":5,"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`), 413, 'payload_too_large'),
  http(
    '50 MB chunked body with no Content-Length',
    { headers: { 'content-type': 'application/json' }, body: hugeStream(50 * 1024 * 1024) },
    413,
    'payload_too_large',
  ),
  raw(
    'declared Content-Length of 1 TB',
    rawPost('Content-Type: application/json\r\nContent-Length: 1000000000000\r\n', '{"rows":5,"cols":5}'),
    413,
    'payload_too_large',
  ),
  raw(
    'non-UTF-8 bytes in the body',
    rawPost(
      'Content-Type: application/json\r\nContent-Length: 29\r\n',
      Buffer.concat([Buffer.from('{"rows":5,"cols":5,"x":"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('"}')]),
    ),
    400,
    'invalid_input',
  ),
  raw(
    'Content-Length that is not a number',
    rawPost('Content-Type: application/json\r\nContent-Length: abc\r\n', '{"rows":5,"cols":5}'),
    400,
    'bad_request',
  ),
  raw('request line that is not HTTP', 'GET /api/batches HTTP/9.9 junk\r\n\r\n', 400, 'bad_request'),
  http('20 KB of headers', { ...json('{"rows":5,"cols":5}', { cookie: `x=${'c'.repeat(20_000)}` }) }, 431, 'headers_too_large'),
  // Methods, origins, ownership
  http('PUT /api/batches', { ...json('{"rows":5,"cols":5}'), method: 'PUT' }, 405, 'method_not_allowed'),
  http(
    'PATCH /api/batches/:id/cancel',
    { ...json('{"status":"cancelled"}'), method: 'PATCH', path: `/api/batches/${UUID_UNKNOWN}/cancel` },
    405,
    'method_not_allowed',
  ),
  http('DELETE /api/batches/:id', { method: 'DELETE', path: `/api/batches/${UUID_UNKNOWN}` }, 405, 'method_not_allowed'),
  http('PROPFIND /api/batches', { method: 'PROPFIND' }, 501, 'not_implemented'),
  http('POST from a foreign Origin', json('{"rows":5,"cols":5}', { origin: 'https://evil.example' }), 403, 'forbidden_origin'),
  http('POST from Origin "null"', json('{"rows":5,"cols":5}', { origin: 'null' }), 403, 'forbidden_origin'),
  // Socket.IO
  joinId('batch:join with a number id', 42),
  joinId('batch:join with an operator object id {"$ne":null}', { $ne: null }),
  joinId('batch:join with an array id', [UUID_UNKNOWN]),
  joinId('batch:join with a null id', null),
  joinId('batch:join with SQL in the id', "'; drop table batches; --"),
  joinId('batch:join with a script id', '<img src=x onerror=alert(1)>'),
  joinId('batch:join with a 15 KB id', 'x'.repeat(15_000)),
  joinId('batch:join with binary data as the id', Buffer.from(UUID_UNKNOWN)),
  joinId('batch:join with a __proto__ object id', JSON.parse('{"__proto__":{"polluted":true}}')),
  joinId('batch:join with a 2,000-level nested array id', JSON.parse(nested(2000, '0'))),
  socketCase('batch:join with afterSeq 1e308, NaN-ish and -1 on a real batch (full snapshot)', { code: 'ok' }, async (s) => {
    const acks = [
      await joinWith(s, existing.id, { afterSeq: 1e308 }),
      await joinWith(s, existing.id, { afterSeq: 'NaN' }),
      await joinWith(s, existing.id, { afterSeq: -1 }),
    ];
    for (const ack of acks) expect(ack).toMatchObject({ ok: true, afterSeq: null, batch: { id: existing.id } });
    return acks[0];
  }),
  socketCase('batch:join with maxCells -1, "0", 1e308 and an operator object (full snapshot)', { code: 'ok' }, async (s) => {
    const acks = await Promise.all([-1, '0', 1e308, { $gt: 0 }].map((maxCells) => joinWith(s, existing.id, { maxCells })));
    for (const ack of acks) expect(ack).toMatchObject({ ok: true, cellsOmitted: false, batch: { id: existing.id } });
    return acks[0];
  }),
  socketCase('batch:join with options that are not an object (a string)', { code: 'ok' }, (s) => joinWith(s, existing.id, 'afterSeq=5')),
  socketCase('batch:join with no ack: ignored, socket stays', { code: null }, async (s) => {
    (s.emit as (...a: unknown[]) => void)('batch:join', existing.id);
    (s.emit as (...a: unknown[]) => void)('batch:join');
    expect(await join(s, UUID_UNKNOWN)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(s.connected).toBe(true);
    return null;
  }),
  socketCase('batch:leave with an object, and unknown events (__proto__, constructor)', { code: 'not_found' }, async (s) => {
    (s.emit as (...a: unknown[]) => void)('batch:leave', { $where: '1' });
    (s.emit as (...a: unknown[]) => void)('__proto__', { polluted: true });
    (s.emit as (...a: unknown[]) => void)('constructor', 'x');
    (s.emit as (...a: unknown[]) => void)('batches:delete', UUID_UNKNOWN);
    const ack = await join(s, UUID_UNKNOWN);
    expect(s.connected).toBe(true);
    return ack;
  }),
  socketCase('a 32 KB message (over the 16 KB limit)', { code: null, disconnected: true }, async (s) => {
    (s.emit as (...a: unknown[]) => void)('batch:join', 'x'.repeat(32 * 1024), () => undefined);
    return null;
  }),
  socketCase('flooding batch:join 300 times', { code: 'rate_limited', disconnected: true }, async (s) => {
    const acks: JoinAck[] = [];
    for (let i = 0; i < 300; i++) s.emit('batch:join', UUID_UNKNOWN, (ack) => acks.push(ack));
    await waitFor(() => acks.some((a) => !a.ok && a.error.code === 'rate_limited'), 'a rate_limited answer', 10_000);
    return acks.find((a) => !a.ok && a.error.code === 'rate_limited')!;
  }),
  {
    surface: 'Socket.IO',
    input: 'handshake from a foreign Origin',
    expected: { code: 'refused' },
    run: () =>
      new Promise<Outcome>((resolve) => {
        const socket = connect(base, {
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
          extraHeaders: { origin: 'https://evil.example' },
        });
        socket.once('connect', () => (socket.disconnect(), resolve({ code: 'connected', texts: [] })));
        socket.once('connect_error', (err) => (socket.close(), resolve({ code: 'refused', texts: [err.message] })));
      }),
  },
  http(
    'cancel by a session that did not start the batch',
    () => ({ method: 'POST', path: `/api/batches/${owned.id}/cancel`, headers: { cookie: `fl_session=${'B'.repeat(43)}` } }),
    403,
    'forbidden',
  ),
  http('cancel with no session at all', () => ({ method: 'POST', path: `/api/batches/${owned.id}/cancel` }), 403, 'forbidden'),
  http(
    'cancel with a forged Bearer token',
    () => ({ method: 'POST', path: `/api/batches/${owned.id}/cancel`, headers: { authorization: 'Bearer anything' } }),
    403,
    'forbidden',
  ),
];

const results: { n: number; surface: string; input: string; expected: string; outcome: string }[] = [];

const describeOutcome = (o: { status?: number; code: string | null; disconnected?: boolean }) =>
  [o.status, o.code ?? (o.status ? '' : 'no answer'), o.disconnected ? '+ disconnected' : '']
    .filter((x) => x !== undefined && x !== '')
    .join(' ');

describe(`${CASES.length} hostile inputs`, () => {
  it('has at least 40', () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  CASES.forEach((hostile, i) => {
    it(`#${i + 1} ${hostile.surface}: ${hostile.input} → ${describeOutcome(hostile.expected)}`, async () => {
      const before = await createdCounts(db.pool);
      const outcome = await hostile.run();
      results.push({
        n: i + 1,
        surface: hostile.surface,
        input: hostile.input,
        expected: describeOutcome(hostile.expected),
        outcome: describeOutcome(outcome),
      });

      if (hostile.expected.status !== undefined) expect(outcome.status).toBe(hostile.expected.status);
      expect(outcome.code).toBe(hostile.expected.code);
      if (hostile.expected.disconnected) expect(outcome.disconnected).toBe(true);
      // Quoted text in a message is the client's own input echoed back, not a leak.
      for (const text of outcome.texts) expect(text.replace(/\\"(?:[^"\\]|\\[^"])*\\"/g, '""')).not.toMatch(LEAK);
      expect(await createdCounts(db.pool)).toEqual(before);
      expect((await send(`${base}/healthz`)).status).toBe(200);
    });
  });

  it('afterwards the owner can still cancel, and a normal batch starts, paints and completes', async () => {
    expect((await send(`${base}/api/batches/${owned.id}/cancel`, { method: 'POST', headers: { cookie: owned.cookie } })).status).toBe(200);
    worker = startWorker(db.url, 'w-hostile');
    const socket = await connectClient(base);
    const heard = record(socket);
    try {
      const created = await send(`${base}/api/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"rows":10,"cols":10}',
      });
      expect(created.status).toBe(201);
      expect((await join(socket, created.body.id, heard)).ok).toBe(true);
      await waitFor(() => heard.ended(created.body.id), 'the normal batch to complete', 60_000);
      const batch = await send(`${base}/api/batches/${created.body.id}`);
      expect(batch.body).toMatchObject({ status: 'completed', done: 100, total: 100 });
    } finally {
      socket.disconnect();
    }
  });
});

afterAll(async () => {
  const table = [
    `| # | Surface | Hostile input | Expected | Outcome |`,
    `|---|---|---|---|---|`,
    ...results.map((r) => `| ${r.n} | ${r.surface} | ${r.input.replace(/\|/g, '\\|')} | ${r.expected} | ${r.outcome} |`),
  ].join('\n');
  console.log(`\nHostile inputs (each: nothing created, no leak, /healthz 200 after):\n${table}\n`);
  const dir = path.resolve(import.meta.dirname, '../../test-results');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'hostile-inputs.md'),
    `# Hostile inputs\n\nEach row: nothing created (batches and jobs counted in Postgres), no stack trace or SQL in the answer, /healthz 200 afterwards.\n\n${table}\n`,
  );
});
