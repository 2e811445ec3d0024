import { networkInterfaces } from 'node:os';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CancelAck, DashboardClientToServerEvents, DashboardServerToClientEvents, IntakeAck } from '../../lib/realtime/events';
import type { ErrorBody } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { type Answer, createdCounts, parseRaw, postBatch, rawRequest, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, type WorkerProcess } from '../helpers/processes';

// Closed by default (issue #12, item 1), against real web server processes (Next.js + Socket.IO) on
// a real database, with no workers: every batch stays running until someone cancels it.
// - The operator controls (cancel any batch, pause intake) follow one rule over HTTP and Socket.IO.
// - A server listening beyond loopback without DASHBOARD_TOKEN does not start.
// - Host (and a same-origin Origin) must be one of the server's names: a DNS-rebinding page is refused.

type DashboardClient = Socket<DashboardServerToClientEvents, DashboardClientToServerEvents>;

const TOKEN = 'closed-by-default-token';

let db: TestDatabase;
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  sockets.forEach((s) => s.disconnect());
  await db?.drop();
});

/** This machine's first address that is not loopback, if it has one. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

function dashboardSocket(base: string, token: string | undefined, extraHeaders?: Record<string, string>): DashboardClient {
  const socket: DashboardClient = connect(`${base}/dashboard`, {
    path: '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: token === undefined ? {} : { token },
    extraHeaders,
  });
  sockets.push(socket);
  return socket;
}

/**
 * What a dashboard socket is told once connected: a snapshot (an operator's), or why its dashboard
 * stays locked (anyone else's). Resolves with the first of the two.
 */
function firstWord(socket: DashboardClient): Promise<{ snapshot: true } | { locked: ErrorBody }> {
  return new Promise((resolve) => {
    socket.once('dashboard:snapshot', () => resolve({ snapshot: true }));
    socket.once('dashboard:locked', (refusal) => resolve({ locked: refusal }));
  });
}

/** Connects `socket` and resolves with what it is told first (see firstWord); fails if it is refused. */
async function firstWordOf(socket: DashboardClient) {
  const told = firstWord(socket);
  expect(await handshake(socket)).toBeNull();
  return told;
}

/** A Socket.IO handshake by hand, over long-polling or as a WebSocket upgrade, and the raw answer. */
async function rawHandshake(port: number, transport: 'polling' | 'websocket', headers: { host: string; origin?: string }) {
  const upgrade =
    transport === 'websocket'
      ? 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
      : 'Connection: close\r\n';
  const origin = headers.origin ? `Origin: ${headers.origin}\r\n` : '';
  return parseRaw(
    await rawRequest(
      port,
      `GET /socket.io/?EIO=4&transport=${transport} HTTP/1.1\r\nHost: ${headers.host}\r\n${origin}${upgrade}\r\n`,
      5_000,
    ),
  );
}

/** Resolves with the server's refusal (its `data`, or the message), or null once connected. */
function handshake(socket: Socket): Promise<ErrorBody | { message: string } | null> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(null));
    socket.once('connect_error', (err: Error & { data?: ErrorBody }) => resolve(err.data ?? { message: err.message }));
  });
}

const cancelOver = (socket: DashboardClient, batchId: string) =>
  new Promise<CancelAck>((resolve) => socket.emit('batch:cancel', batchId, resolve));
const pauseOver = (socket: DashboardClient) => new Promise<IntakeAck>((resolve) => socket.emit('intake:pause', resolve));
const resumeOver = (socket: DashboardClient) => new Promise<IntakeAck>((resolve) => socket.emit('intake:resume', resolve));

async function startAsNewSession(base: string) {
  const answer = await postBatch(base, { rows: 2, cols: 2 });
  expect(answer.status).toBe(201);
  return { id: answer.body.id as string, cookie: sessionCookieOf(answer)! };
}

const statusOf = async (base: string, id: string) => (await send(`${base}/api/batches/${id}`)).body.status as string;
const intakePaused = async () => (await db.pool.query<{ paused: boolean }>('select paused from intake_control')).rows[0]?.paused ?? false;
const cancelOverHttp = (base: string, id: string, headers: Record<string, string> = {}) =>
  send(`${base}/api/batches/${id}/cancel`, { method: 'POST', headers });

function expectError(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(answer.body.error.message).toMatch(/\w/);
}

describe('HOST=0.0.0.0 with DASHBOARD_TOKEN (reachable beyond loopback), ALLOWED_HOSTS=app.example', () => {
  let server: WorkerProcess;
  let port: number;
  let base: string;

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await startWebServer(db.url, port, { HOST: '0.0.0.0', DASHBOARD_TOKEN: TOKEN, ALLOWED_HOSTS: 'app.example' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("a stranger's dashboard socket gets in, sees no snapshot, and each control answers forbidden, as over HTTP; the batch runs on", async () => {
    const { id } = await startAsNewSession(base);
    // An operator alongside: once it has had two snapshots (one a second), a stranger would have had one.
    const operator = dashboardSocket(base, TOKEN);
    let operatorSnapshots = 0;
    operator.on('dashboard:snapshot', () => operatorSnapshots++);
    let strangerSnapshots = 0;
    for (const token of [undefined, 'not-the-token', '']) {
      const stranger = dashboardSocket(base, token);
      stranger.on('dashboard:snapshot', () => strangerSnapshots++);
      // The message says what to do: a token is missing, or the one given is wrong.
      const hint = token ? /not the dashboard token/ : /needs a token/;
      expect(await firstWordOf(stranger)).toEqual({ locked: { error: { code: 'forbidden', message: expect.stringMatching(hint) } } });
      expect(await cancelOver(stranger, id)).toEqual({ ok: false, error: { code: 'forbidden', message: expect.stringMatching(/\w/) } });
      expect(await pauseOver(stranger)).toEqual({ ok: false, error: { code: 'forbidden', message: expect.stringMatching(/\w/) } });
      expect(await resumeOver(stranger)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    const seen = operatorSnapshots;
    await expect.poll(() => operatorSnapshots, { timeout: 10_000 }).toBeGreaterThanOrEqual(seen + 2);
    expect(strangerSnapshots).toBe(0);
    // The same stranger over HTTP: no session of the batch, no token (nor a token without "Bearer").
    expectError(await cancelOverHttp(base, id), 403, 'forbidden');
    expectError(await cancelOverHttp(base, id, { authorization: 'Bearer not-the-token' }), 403, 'forbidden');
    expectError(await cancelOverHttp(base, id, { authorization: TOKEN }), 403, 'forbidden');
    expect(await statusOf(base, id)).toBe('running');
    expect(await intakePaused()).toBe(false);
  });

  it('the token holder cancels and pauses over the socket, and cancels over HTTP; the owner cancels its own', async () => {
    const operator = dashboardSocket(base, TOKEN);
    expect(await handshake(operator)).toBeNull();
    expect(await pauseOver(operator)).toMatchObject({ ok: true, intake: { paused: true } });
    expect(await intakePaused()).toBe(true);
    expect(await resumeOver(operator)).toMatchObject({ ok: true, intake: { paused: false } });
    expect(await intakePaused()).toBe(false);

    const bySocket = await startAsNewSession(base);
    expect(await cancelOver(operator, bySocket.id)).toMatchObject({ ok: true, batch: { id: bySocket.id, status: 'cancelled' } });
    const byBearer = await startAsNewSession(base);
    expect((await cancelOverHttp(base, byBearer.id, { authorization: `Bearer ${TOKEN}` })).body).toMatchObject({ status: 'cancelled' });
    const byOwner = await startAsNewSession(base);
    expect((await cancelOverHttp(base, byOwner.id, { cookie: byOwner.cookie })).body).toMatchObject({ status: 'cancelled' });
  });

  it('refuses the DNS-rebinding request (Host and Origin both evil) over HTTP, before any route runs: 403 forbidden_host', async () => {
    const { id } = await startAsNewSession(base);
    const before = await createdCounts(db.pool);
    const evil = `evil.example:${port}`;
    const request = (method: string, path: string, body = '') =>
      rawRequest(
        port,
        `${method} ${path} HTTP/1.1\r\nHost: ${evil}\r\nOrigin: http://${evil}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      ).then(parseRaw);
    for (const [method, path, body] of [
      ['POST', '/api/batches', '{"rows":2,"cols":2}'],
      ['POST', `/api/batches/${id}/cancel`, ''],
      ['GET', '/api/batches', ''],
      ['GET', `/api/batches/${id}`, ''],
      ['GET', '/', ''],
      ['GET', '/dashboard', ''],
      ['GET', '/metrics', ''],
    ]) {
      const answer = await request(method, path, body);
      expect({ path, status: answer.status, code: answer.body?.error?.code }).toEqual({ path, status: 403, code: 'forbidden_host' });
      expect(answer.head).toMatch(/^content-type: application\/json/im);
      expect(answer.body.error.message).toMatch(/ALLOWED_HOSTS/);
    }
    expect(await createdCounts(db.pool)).toEqual(before);
    expect(await statusOf(base, id)).toBe('running');
    // Health probes address a container by its IP: /healthz answers whatever the Host.
    expect((await request('GET', '/healthz')).status).toBe(200);
    // A name on ALLOWED_HOSTS, and the loopback names, are this server's.
    const named = parseRaw(await rawRequest(port, `GET /api/batches HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n`));
    expect(named.status).toBe(200);
    const local = parseRaw(await rawRequest(port, `GET /api/batches HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`));
    expect(local.status).toBe(200);
  });

  it('refuses the DNS-rebinding page on the Socket.IO handshake, even with the token; the same page on an allowed name connects', async () => {
    const evil = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
    const page = connect(base, { path: '/socket.io', transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: evil });
    sockets.push(page);
    expect(await handshake(page)).not.toBeNull();
    expect(await handshake(dashboardSocket(base, TOKEN, evil))).not.toBeNull();
    const polling = parseRaw(
      await rawRequest(
        port,
        `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: ${evil.host}\r\nOrigin: ${evil.origin}\r\nConnection: close\r\n\r\n`,
      ),
    );
    expect(polling.status).toBe(403);
    expect(polling.body).toEqual({ error: { code: 'forbidden_host', message: expect.stringMatching(/ALLOWED_HOSTS/) } });

    const allowed = connect(base, {
      path: '/socket.io',
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { host: 'app.example', origin: 'http://app.example' },
    });
    sockets.push(allowed);
    expect(await handshake(allowed)).toBeNull();
  });

  it('answers a refused handshake in the error shape, 403 with JSON, over long-polling and on a WebSocket upgrade alike', async () => {
    const evilHost = { host: `evil.example:${port}`, origin: `http://evil.example:${port}` };
    const evilOrigin = { host: `127.0.0.1:${port}`, origin: 'http://evil.example' };
    for (const transport of ['polling', 'websocket'] as const) {
      for (const [headers, code, hint] of [
        [evilHost, 'forbidden_host', /ALLOWED_HOSTS/],
        [evilOrigin, 'forbidden_origin', /ALLOWED_ORIGINS/],
      ] as const) {
        const answer = await rawHandshake(port, transport, headers);
        expect({ transport, status: answer.status, body: answer.body }).toEqual({
          transport,
          status: 403,
          body: { error: { code, message: expect.stringMatching(hint) } },
        });
        expect(answer.head).toMatch(/^content-type: application\/json/im);
        expect(answer.head).toMatch(/^x-content-type-options: nosniff/im);
      }
    }
    // The same handshake on one of the server's names, with its own origin, goes through (over
    // WebSocket: the test above, on an allowed name).
    const ours = await rawHandshake(port, 'polling', { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` });
    expect(ours.status).toBe(200);
  });

  it.skipIf(!lanAddress())("is reachable on this machine's network address, where its IP is no allowed host name for pages", async () => {
    const lan = `http://${lanAddress()}:${port}`;
    expect((await send(`${lan}/healthz`)).status).toBe(200);
    expectError(await send(`${lan}/api/batches`), 403, 'forbidden_host');
  });
});

describe('HOST=0.0.0.0 without DASHBOARD_TOKEN', () => {
  it('refuses to start, saying why and what to set', async () => {
    const port = await freePort();
    const failed = await startWebServer(db.url, port, { HOST: '0.0.0.0' }).then(
      (server) => server.stop().then(() => 'started'),
      (err: Error) => err.message,
    );
    expect(failed).toMatch(/did not come up/);
    expect(failed).toMatch(/HOST=0\.0\.0\.0 lets machines beyond this one reach the server, and DASHBOARD_TOKEN is not set/);
    expect(failed).toMatch(/Set DASHBOARD_TOKEN/);
    // Nothing listens on the port.
    expect(
      await fetch(`http://127.0.0.1:${port}/healthz`).then(
        () => 'answered',
        () => 'refused',
      ),
    ).toBe('refused');
  });
});

describe('HOST unset, no DASHBOARD_TOKEN: loopback, the local default', () => {
  let server: WorkerProcess;
  let base: string;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await startWebServer(db.url, port, { HOST: '' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.skipIf(!lanAddress())('listens on loopback only: the network address is refused', async () => {
    expect((await send(`${base}/healthz`)).status).toBe(200);
    expect(
      await fetch(`http://${lanAddress()}:${port}/healthz`).then(
        () => 'answered',
        () => 'refused',
      ),
    ).toBe('refused');
  });

  it('every client is an operator, over HTTP and the socket alike: any batch cancels, intake pauses, /metrics answers', async () => {
    const local = dashboardSocket(base, undefined);
    expect(await firstWord(local)).toEqual({ snapshot: true });
    expect(await pauseOver(local)).toMatchObject({ ok: true, intake: { paused: true } });
    expect(await resumeOver(local)).toMatchObject({ ok: true, intake: { paused: false } });
    // Batches of another session, cancelled without its cookie: no token is asked on loopback.
    const first = await startAsNewSession(base);
    expect(await cancelOverHttp(base, first.id)).toMatchObject({ status: 200, body: { id: first.id, status: 'cancelled' } });
    const second = await startAsNewSession(base);
    expect(await cancelOverHttp(base, second.id, { authorization: 'Bearer anything' })).toMatchObject({
      status: 200,
      body: { status: 'cancelled' },
    });
    const third = await startAsNewSession(base);
    expect(await cancelOver(local, third.id)).toMatchObject({ ok: true, batch: { status: 'cancelled' } });
    expect((await send(`${base}/metrics`)).status).toBe(200);
    expect((await postBatch(base, { rows: 1, cols: 1, priority: 100 })).status).toBe(201);
  });
});

describe('loopback behind a proxy (TRUST_PROXY), no DASHBOARD_TOKEN: clients may come from anywhere', () => {
  let server: WorkerProcess;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await startWebServer(db.url, port, { TRUST_PROXY: 'true' });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('starts, says the controls are closed, and gives them to nobody, over the socket or HTTP', async () => {
    expect(server.output()).toMatch(/no DASHBOARD_TOKEN while clients may come from beyond this machine/);
    const { id } = await startAsNewSession(base);
    for (const token of [undefined, 'anything']) {
      const stranger = dashboardSocket(base, token);
      expect(await firstWordOf(stranger)).toEqual({
        locked: { error: { code: 'forbidden', message: expect.stringMatching(/no DASHBOARD_TOKEN/) } },
      });
      expect(await cancelOver(stranger, id)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await pauseOver(stranger)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    expectError(await cancelOverHttp(base, id), 403, 'forbidden');
    expectError(await cancelOverHttp(base, id, { authorization: 'Bearer anything' }), 403, 'forbidden');
    expectError(await send(`${base}/metrics`), 403, 'forbidden');
    expect(await statusOf(base, id)).toBe('running');
    expect(await intakePaused()).toBe(false);
  });
});
