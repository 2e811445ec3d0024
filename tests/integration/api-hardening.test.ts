import { io as connectSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { type Answer, createdCounts, postBatch, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, type WorkerProcess } from '../helpers/processes';

// One real web server (Next.js + Socket.IO) with an allowed origin and a dashboard token; no
// workers, so every batch stays running until cancelled.

const ALLOWED = 'http://allowed.example';
const TOKEN = 'dashboard-secret-token';

let db: TestDatabase;
let server: WorkerProcess;
let port: number;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(db.url, port, { ALLOWED_ORIGINS: `${ALLOWED}, https://other.example`, DASHBOARD_TOKEN: TOKEN });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

function expectError(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.body.error.message).toMatch(/\w/);
}

/** Starts a 10×10 batch as a new session; its cookie is what that session sends back. */
async function startAsNewSession(headers: Record<string, string> = {}) {
  const answer = await postBatch(base, { rows: 10, cols: 10 }, headers);
  expect(answer.status).toBe(201);
  return { batch: answer.body as { id: string }, cookie: sessionCookieOf(answer)! };
}

describe('every route answers every method in the error shape', () => {
  const id = '3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61';
  const routes: [string, string[]][] = [
    ['/api/batches', ['GET', 'HEAD', 'OPTIONS', 'POST']],
    [`/api/batches/${id}`, ['GET', 'HEAD', 'OPTIONS']],
    [`/api/batches/${id}/cells`, ['GET', 'HEAD', 'OPTIONS']],
    [`/api/batches/${id}/cancel`, ['OPTIONS', 'POST']],
  ];
  for (const [path, allowed] of routes) {
    it(`${path}: PUT, PATCH, DELETE and the other unused methods are 405 with Allow: ${allowed.join(', ')}`, async () => {
      const before = await createdCounts(db.pool);
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !allowed.includes(m))) {
        const answer = await send(`${base}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{"rows":1,"cols":1}',
        });
        expectError(answer, 405, 'method_not_allowed');
        expect(answer.headers.get('allow')).toBe(allowed.join(', '));
      }
      const options = await send(`${base}${path}`, { method: 'OPTIONS' });
      expect(options.status).toBe(204);
      expect(options.headers.get('allow')).toBe(allowed.join(', '));
      expect(await createdCounts(db.pool)).toEqual(before);
    });
  }

  it('unknown /api paths, with any method, are 404 not_found in JSON', async () => {
    for (const path of ['/api', '/api/nope', '/api/batches/x/y/z', '/api/BATCHES', '/api/batches/x/cancel/more']) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const answer = await send(`${base}${path}`, { method });
        if (method === 'HEAD') expect(answer.status).toBe(404);
        else expectError(answer, 404, 'not_found');
      }
    }
  });

  it('methods Next does not route (TRACE, PROPFIND, …) are 501 not_implemented on /api', async () => {
    for (const method of ['PROPFIND', 'MKCOL', 'LOCK', 'PURGE']) {
      expectError(await send(`${base}/api/batches`, { method }), 501, 'not_implemented');
    }
  });

  it('a path with broken percent-encoding is 400 bad_request, not a bare 500', async () => {
    for (const path of ['/api/batches/%E0%A4%A', '/api/batches/%', '/batches/%C0']) {
      expectError(await send(`${base}${path}`), 400, 'bad_request');
    }
  });

  it('query strings: only the documented parameter, once', async () => {
    expectError(await send(`${base}/api/batches?limit=5&limit=6`), 400, 'invalid_input');
    expectError(await send(`${base}/api/batches?lmit=5`), 400, 'invalid_input');
    expectError(await send(`${base}/api/batches/${id}?x=1`), 400, 'invalid_input');
    expectError(await send(`${base}/api/batches/${id}/cells?afterSeq=1`), 400, 'invalid_input');
    expect((await send(`${base}/api/batches?limit=5`)).status).toBe(200);
  });
});

describe('security headers', () => {
  const expected = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };

  it('are on pages, API answers, errors, static files and Socket.IO polling answers', async () => {
    const home = await send(`${base}/`);
    const script = /<script src="(\/_next\/static\/[^"]+\.js)"/.exec(home.text)?.[1];
    expect(script).toBeTruthy();
    const answers = [
      home,
      await send(`${base}/api/batches`),
      await send(`${base}/api/nope`),
      await send(`${base}/healthz`),
      await send(`${base}${script}`),
      await send(`${base}/socket.io/?EIO=4&transport=polling`),
      await send(`${base}/batches/%E0`),
    ];
    for (const answer of answers) {
      expect(Object.fromEntries(Object.keys(expected).map((name) => [name, answer.headers.get(name)]))).toEqual(expected);
      expect(answer.headers.get('permissions-policy')).toMatch(/camera=\(\)/);
    }
  });

  it('the page CSP allows scripts only by this response nonce, and Next puts that nonce on its scripts', async () => {
    const [a, b] = [await send(`${base}/`), await send(`${base}/`)];
    const csp = a.headers.get('content-security-policy')!;
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'(;|$)/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${port} wss://127.0.0.1:${port}`);
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    const scripts = a.text.match(/<script[^>]*>/g)!;
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    // A fresh nonce per response.
    expect(/'nonce-([^']+)'/.exec(b.headers.get('content-security-policy')!)?.[1]).not.toBe(nonce);
  });

  it('a nonce the client sends in its own CSP request header is not used', async () => {
    const page = await send(`${base}/`, { headers: { 'content-security-policy': "script-src 'nonce-attackerchosen'" } });
    expect(page.text).not.toContain('attackerchosen');
    expect(page.headers.get('content-security-policy')).not.toContain('attackerchosen');
  });
});

describe('allowed origins', () => {
  it('POST create from a foreign origin is 403 forbidden_origin and creates nothing', async () => {
    const before = await createdCounts(db.pool);
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${port + 1}`, 'https://allowed.example', 'not a url']) {
      expectError(await postBatch(base, { rows: 2, cols: 2 }, { origin }), 403, 'forbidden_origin');
    }
    expect(await createdCounts(db.pool)).toEqual(before);
  });

  it('POST create with no Origin, the same origin, or a listed one is allowed', async () => {
    for (const headers of [{}, { origin: base }, { origin: ALLOWED }, { origin: 'https://other.example' }] as Record<string, string>[]) {
      expect((await postBatch(base, { rows: 2, cols: 2 }, headers)).status).toBe(201);
    }
  });

  it('POST cancel from a foreign origin is 403 forbidden_origin and leaves the batch running', async () => {
    const { batch, cookie } = await startAsNewSession();
    expectError(
      await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie, origin: 'http://evil.example' } }),
      403,
      'forbidden_origin',
    );
    expect((await send(`${base}/api/batches/${batch.id}`)).body.status).toBe('running');
    expect((await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie, origin: ALLOWED } })).status).toBe(
      200,
    );
  });

  it('the Socket.IO handshake refuses a foreign origin and admits none, the same or a listed one', async () => {
    const attempt = (origin?: string) =>
      new Promise<string>((resolve) => {
        const socket = connectSocket(base, {
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          extraHeaders: origin ? { origin } : {},
        });
        socket.once('connect', () => {
          socket.disconnect();
          resolve('connected');
        });
        socket.once('connect_error', () => {
          socket.close();
          resolve('refused');
        });
      });
    expect(await attempt('http://evil.example')).toBe('refused');
    expect(await attempt('null')).toBe('refused');
    expect(await attempt()).toBe('connected');
    expect(await attempt(base)).toBe('connected');
    expect(await attempt(ALLOWED)).toBe('connected');
    // Long-polling handshakes go through the same check.
    const polling = await send(`${base}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'http://evil.example' } });
    expect(polling.status).toBe(403);
  });
});

describe('cancel belongs to the session that started the batch', () => {
  it('POST /api/batches sets an HttpOnly, SameSite=Lax session cookie when the request has none, and keeps an existing one', async () => {
    const first = await postBatch(base, { rows: 1, cols: 1 });
    const setCookie = first.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^fl_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    const again = await postBatch(base, { rows: 1, cols: 1 }, { cookie: sessionCookieOf(first)! });
    expect(again.status).toBe(201);
    expect(again.headers.get('set-cookie')).toBeNull();
    // A made-up cookie value is not a session we issued: a fresh one replaces it.
    const forged = await postBatch(base, { rows: 1, cols: 1 }, { cookie: 'fl_session=forged' });
    expect(sessionCookieOf(forged)).toMatch(/^fl_session=[A-Za-z0-9_-]{43}$/);
  });

  it('another session, no session, or a wrong token get 403 forbidden; the batch keeps running', async () => {
    const { batch } = await startAsNewSession();
    const { cookie: otherCookie } = await startAsNewSession();
    const cancel = (headers: Record<string, string>) => send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers });
    expectError(await cancel({}), 403, 'forbidden');
    expectError(await cancel({ cookie: otherCookie }), 403, 'forbidden');
    expectError(await cancel({ cookie: 'fl_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }), 403, 'forbidden');
    expectError(await cancel({ authorization: 'Bearer wrong-token' }), 403, 'forbidden');
    expectError(await cancel({ authorization: TOKEN }), 403, 'forbidden');
    expect((await send(`${base}/api/batches/${batch.id}`)).body.status).toBe('running');
  });

  it('the owner session cancels (200, then 409 already_finished); unknown ids stay 404 for anyone', async () => {
    const { batch, cookie } = await startAsNewSession();
    const mine = await send(`${base}/api/batches/${batch.id}`, { headers: { cookie } });
    expect(mine.body).toMatchObject({ yours: true, mayCancel: true });
    // A stranger may not, an operator may (this server has a DASHBOARD_TOKEN): what the page's button follows.
    expect((await send(`${base}/api/batches/${batch.id}`)).body).toMatchObject({ yours: false, mayCancel: false });
    const operator = await send(`${base}/api/batches/${batch.id}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(operator.body).toMatchObject({ yours: false, mayCancel: true });
    const cancelled = await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: batch.id, status: 'cancelled' });
    expectError(await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } }), 409, 'already_finished');
    expectError(
      await send(`${base}/api/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61/cancel`, { method: 'POST', headers: { cookie } }),
      404,
      'not_found',
    );
  });

  it('Authorization: Bearer <DASHBOARD_TOKEN> cancels any batch', async () => {
    const { batch } = await startAsNewSession();
    const cancelled = await send(`${base}/api/batches/${batch.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
  });

  it('a replay of an Idempotency-Key from another session returns the batch but does not make that session its owner', async () => {
    const key = `owner-${Date.now()}`;
    const first = await postBatch(base, { rows: 1, cols: 1 }, { 'idempotency-key': key });
    const replay = await postBatch(base, { rows: 1, cols: 1 }, { 'idempotency-key': key });
    expect([first.status, replay.status]).toEqual([201, 200]);
    expect(replay.body.id).toBe(first.body.id);
    expectError(
      await send(`${base}/api/batches/${first.body.id}/cancel`, { method: 'POST', headers: { cookie: sessionCookieOf(replay)! } }),
      403,
      'forbidden',
    );
  });
});
