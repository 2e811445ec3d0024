import { createServer, type Server } from 'node:http';
import type pg from 'pg';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, JoinAck, ServerToClientEvents } from '../../lib/realtime/events';
import { attachRealtime, type RealtimeOptions, type RealtimeServer } from '../../web/realtime/server';
import { hasEnded, type Batch, type ColoredCell } from '../../lib/types';
import { expect } from 'vitest';
import { postBatch } from './http';
import { withTransaction } from '../../lib/db/pool';
import { emitInTransaction } from '../../lib/realtime/emitter';
import { quietLog, waitFor } from './db';

export type TestClient = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The real Socket.IO server with the Postgres adapter, on a real HTTP server on port 0. */
export async function startRealtime(
  pool: pg.Pool,
  connectionString: string,
  options?: RealtimeOptions,
): Promise<{ url: string; io: RealtimeServer; close(): Promise<void> }> {
  const http: Server = createServer();
  const { io, close } = attachRealtime(http, { pool, connectionString }, quietLog, options);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, io, close };
}

/**
 * A real client over the WebSocket transport alone, connected. `listen` attaches listeners before
 * the connection opens, so nothing the server sends on connect is missed. `compression: false`: it
 * offers no permessage-deflate, as a plain WebSocket client may (its events then take five times the
 * bytes, which a test of a stalled reader needs to fill the socket's buffers).
 */
export async function connectClient(
  url: string,
  listen?: (socket: TestClient) => void,
  { compression = true }: { compression?: boolean } = {},
): Promise<TestClient> {
  const socket: TestClient = connect(url, {
    path: '/socket.io',
    transports: ['websocket'],
    forceNew: true,
    autoConnect: false,
    // engine.io-client hands the option to ws; false offers no extension.
    ...(compression ? {} : { perMessageDeflate: false as unknown as { threshold: number } }),
  });
  listen?.(socket);
  socket.connect();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/**
 * Joins a batch's room; with `heard`, the snapshot's cells count as seen, as a page merges them,
 * and a snapshot of an ended batch counts as its end (the contract sends no completion event for
 * a batch that ended before the join).
 */
export async function join(socket: TestClient, batchId: string, heard?: ReturnType<typeof record>): Promise<JoinAck> {
  const ack = await new Promise<JoinAck>((resolve) => socket.emit('batch:join', batchId, resolve));
  if (heard && ack.ok) {
    for (const cell of ack.cells) heard.merge(batchId, cell);
    if (hasEnded(ack.batch.status)) heard.endedAtJoin.add(batchId);
  }
  return ack;
}

/** Everything one client hears about batches: cells by position, and each completion event. */
export function record(socket: TestClient) {
  const cells = new Map<string, string>();
  const seen: { batchId: string; cells: ColoredCell[] }[] = [];
  const completions: Parameters<ServerToClientEvents['batch:completed']>[0][] = [];
  const conflicts: string[] = [];
  const merge = (batchId: string, cell: ColoredCell) => {
    const key = `${batchId}:${cell.row}:${cell.col}`;
    const before = cells.get(key);
    if (before && before !== cell.color) conflicts.push(`${key} ${before} -> ${cell.color}`);
    cells.set(key, cell.color);
  };
  socket.on('cells:colored', (event) => {
    seen.push(event);
    for (const cell of event.cells) merge(event.batchId, cell);
  });
  socket.on('batch:completed', (event) => completions.push(event));
  const endedAtJoin = new Set<string>();
  /** The client knows the batch ended: from its completion event, or from the join's snapshot. */
  const ended = (batchId: string) => endedAtJoin.has(batchId) || completions.some((c) => c.batchId === batchId);
  return { cells, seen, completions, conflicts, merge, endedAtJoin, ended };
}

/**
 * The contract's "once per batch": one completion event of the batch, or none where the join's
 * snapshot already said it ended (a batch that ends between the join and its snapshot may send
 * both, which the page merges).
 */
export function expectCompletedOnce(heard: ReturnType<typeof record>, batchId: string) {
  const of = heard.completions.filter((c) => c.batchId === batchId);
  if (heard.endedAtJoin.has(batchId)) expect(of.length).toBeLessThanOrEqual(1);
  else expect(of).toHaveLength(1);
}

/**
 * Sends a marker down the same path as the workers' events and waits for it at `socket`. Postgres
 * delivers notifications in commit order, so once it arrives nothing committed earlier (a second
 * completion, say) can still be on its way.
 */
export async function drain(pool: pg.Pool, socket: TestClient, batchId: string) {
  let arrived = false;
  const onCells = (event: { batchId: string; cells: unknown[] }) => {
    if (event.batchId === batchId && event.cells.length === 0) arrived = true;
  };
  socket.on('cells:colored', onCells);
  try {
    await withTransaction(pool, (tx) => emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq: 0, cells: [] }));
    await waitFor(() => arrived, 'the drain marker');
  } finally {
    socket.off('cells:colored', onCells);
  }
}

/**
 * Makes a connected client stop reading its connection, as a stalled or very slow reader does: its
 * TCP receive buffer fills, then the server's send buffer, then the server queues packets for it.
 * Returns the function that lets it read again.
 */
export function stopReading(socket: TestClient): () => void {
  const ws = (socket.io.engine.transport as unknown as { ws?: { pause(): void; resume(): void } }).ws;
  if (!ws) throw new Error('stopReading needs a client on the websocket transport');
  ws.pause();
  return () => ws.resume();
}

/** How many packets the server holds queued for this client's connection (Engine.IO's buffer). */
export function serverQueue(io: RealtimeServer, socket: Pick<TestClient, 'id'>): number {
  const conn = io.of('/').sockets.get(socket.id ?? '')?.conn as unknown as { writeBuffer: unknown[] } | undefined;
  return conn?.writeBuffer.length ?? 0;
}

/**
 * The deepest the server's queue for this client's connection gets from now on, measured as each
 * packet is queued (Engine.IO's `packetCreate`, just before the packet joins the buffer), so no
 * peak falls between samples.
 */
export function watchServerQueue(io: RealtimeServer, socket: Pick<TestClient, 'id'>): { deepest(): number; stop(): void } {
  const conn = io.of('/').sockets.get(socket.id ?? '')?.conn as unknown as
    { writeBuffer: unknown[]; on(e: 'packetCreate', f: () => void): void; off(e: 'packetCreate', f: () => void): void } | undefined;
  if (!conn) throw new Error('watchServerQueue: the client has no connection on this server');
  let deepest = conn.writeBuffer.length;
  const onPacket = () => (deepest = Math.max(deepest, conn.writeBuffer.length + 1));
  conn.on('packetCreate', onPacket);
  return { deepest: () => deepest, stop: () => conn.off('packetCreate', onPacket) };
}

/**
 * POST /api/batches on a real web server at `base`, then joins the new batch with `socket` (the
 * snapshot's cells counted as heard), as a page does when it opens the batch it started.
 */
export async function startAndJoin(
  base: string,
  socket: TestClient,
  heard: ReturnType<typeof record>,
  body: Record<string, unknown>,
): Promise<Batch> {
  const answer = await postBatch(base, body);
  expect(answer.status, answer.text).toBe(201);
  const batch = answer.body as Batch;
  expect((await join(socket, batch.id, heard)).ok).toBe(true);
  return batch;
}
