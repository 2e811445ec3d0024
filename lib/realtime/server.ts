import type { Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import { Server } from 'socket.io';
import { isBatchId } from '../batches/validate';
import { findBatch } from '../db/batches';
import { listOutcomes } from '../db/cells';
import { isOriginAllowed } from '../http/origin';
import { STATIC_SECURITY_HEADERS } from '../http/security-headers';
import type { Logger } from '../log';
import { createJoinLimiter, DEFAULT_JOIN_LIMITS, type JoinLimits } from './join-limits';
import { batchRoom, type ClientToServerEvents, type JoinAck, type ServerToClientEvents } from './events';

export type RealtimeServer = Server<ClientToServerEvents, ServerToClientEvents>;

const NOT_FOUND: JoinAck = {
  ok: false,
  error: { code: 'not_found', message: 'No batch has this id. Check the link, or start a new batch.' },
};

const RATE_LIMITED: JoinAck = {
  ok: false,
  error: { code: 'rate_limited', message: 'Too many batch:join requests on this connection; wait a second and try again.' },
};

/** Largest message a client may send; a bigger one closes its connection. Joins are tiny. */
export const MAX_MESSAGE_BYTES = 16 * 1024;

export interface RealtimeOptions {
  /** Origins besides the server's own whose pages may connect (see isOriginAllowed). */
  allowedOrigins?: readonly string[];
  joinLimits?: Partial<JoinLimits>;
}

/**
 * Socket.IO on the web server. Rooms are per batch; broadcasts from workers arrive through the
 * Postgres adapter, so any number of web servers can serve the same batch without sticky sessions.
 * The server keeps no batch state: a join answers with a snapshot read from Postgres.
 */
export function attachRealtime(
  httpServer: HttpServer,
  db: { pool: pg.Pool; connectionString: string },
  log: Logger,
  options: RealtimeOptions = {},
): { io: RealtimeServer; close(): Promise<void> } {
  const { pool } = db;
  const allowedOrigins = options.allowedOrigins ?? [];
  const limits: JoinLimits = { ...DEFAULT_JOIN_LIMITS, ...options.joinLimits };
  const io: RealtimeServer = new Server(httpServer, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // The same origin rule as POST: a page of a foreign origin may not open a socket (browsers
    // always send Origin on a WebSocket handshake; scripts without one are let in).
    allowRequest: (req, callback) => {
      const allowed = isOriginAllowed(req.headers.origin, req.headers.host, allowedOrigins);
      callback(allowed ? null : 'forbidden_origin: this origin may not connect; ask the operator to add it to ALLOWED_ORIGINS', allowed);
    },
    // server.ts routes the upgrades that are not ours (Next's hot reload in development).
    destroyUpgrade: false,
    adapter: createAdapter(listenConnections(db.connectionString, pool), {
      errorHandler: (err: Error) => log.warn('socket.io adapter error', { err: err.message }),
    }),
  });

  // Long-polling answers bypass the page handler; they carry the same headers.
  io.engine.on('initial_headers', (headers: Record<string, string>) => Object.assign(headers, STATIC_SECURITY_HEADERS));
  io.engine.on('headers', (headers: Record<string, string>) => Object.assign(headers, STATIC_SECURITY_HEADERS));

  io.on('connection', (socket) => {
    shedCellsWhenBehind(socket);
    const takeJoin = createJoinLimiter(limits);
    socket.on('batch:join', async (batchId, optionsOrAck, maybeAck) => {
      const ack = typeof optionsOrAck === 'function' ? optionsOrAck : maybeAck;
      const verdict = takeJoin();
      if (verdict !== 'ok') {
        if (typeof ack === 'function') ack(RATE_LIMITED);
        if (verdict === 'disconnect') {
          log.warn('socket disconnected for flooding batch:join', { address: socket.handshake.address });
          socket.disconnect(true);
        }
        return;
      }
      if (typeof ack !== 'function') return;
      if (!isBatchId(batchId)) return ack(NOT_FOUND);
      if (!socket.rooms.has(batchRoom(batchId)) && joinedBatches(socket.rooms) >= limits.maxBatches) {
        return ack({
          ok: false,
          error: { code: 'too_many_joined', message: `This connection follows ${limits.maxBatches} batches already, the most allowed; leave one (batch:leave) first.` },
        });
      }
      const options = typeof optionsOrAck === 'object' ? optionsOrAck : null;
      const afterSeq = parseCount(options?.afterSeq);
      try {
        // Join before reading: an event that lands in between is then both in the snapshot and
        // delivered, which is harmless (same colour), while the other order could lose it. Read the
        // batch before its cells: every cell numbered up to batch.seq is committed by then.
        await socket.join(batchRoom(batchId));
        const batch = await findBatch(pool, batchId);
        if (!batch) {
          await socket.leave(batchRoom(batchId));
          return ack(NOT_FOUND);
        }
        const maxCells = parseCount(options?.maxCells);
        const cellsOmitted = maxCells !== null && batch.done > maxCells;
        const outcomes = await listOutcomes(pool, batchId, afterSeq ?? undefined, cellsOmitted ? { only: 'failed' } : {});
        ack({ ok: true, batch, ...outcomes, seq: batch.seq, afterSeq, cellsOmitted });
      } catch (err) {
        log.warn('batch:join failed', { batchId, err });
        ack({ ok: false, error: { code: 'unavailable', message: 'The server could not read this batch right now. Try again in a moment.' } });
      }
    });

    socket.on('batch:leave', (batchId) => {
      if (isBatchId(batchId)) void socket.leave(batchRoom(batchId));
    });
  });

  const close = () => new Promise<void>((resolve) => void io.close(() => resolve()));
  return { io, close };
}

/**
 * What the adapter takes for a pool: queries go to ours, and its LISTEN connection is a client of
 * its own, ended when released. The adapter reconnects after a lost connection but never hands the
 * dead client back; from a real pool that leaks a slot per outage until it can connect no more.
 */
function listenConnections(connectionString: string, pool: pg.Pool): pg.Pool {
  // The adapter calls only query() and connect(); its type asks for a whole Pool.
  return {
    query: (text: string, values?: unknown[]) => pool.query(text, values),
    connect: async () => {
      const client = new pg.Client({ connectionString, application_name: 'finish-line-socket-io', keepAlive: true });
      client.on('error', () => undefined);
      await client.connect();
      return Object.assign(client, { release: () => void client.end().catch(() => undefined) });
    },
  } as unknown as pg.Pool;
}

function joinedBatches(rooms: Set<string>): number {
  let n = 0;
  for (const room of rooms) if (room.startsWith('batch:')) n++;
  return n;
}

/**
 * A join option that counts something (`afterSeq`, `maxCells`): a safe integer from 0. Anything else
 * counts as not given, which asks for the full snapshot.
 */
function parseCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** Packets a socket may have queued before its `cells:*` news is shed. */
export const MAX_QUEUED_PACKETS = 64;

/**
 * A client that reads slower than cells land would make its server queue every broadcast for it,
 * without bound. Past MAX_QUEUED_PACKETS queued, this socket's `cells:*` packets are dropped
 * instead; everything else (the completion, acks) still goes. The client sees the gap in the
 * sequence numbers (or a quiet spell) once it reads again, and rejoins with `afterSeq`: one answer
 * with every cell it missed, a coalesced frame in place of the backlog.
 */
function shedCellsWhenBehind(socket: { client: unknown }) {
  // writeToEngine is socket.io's per-connection write path (internal, stable across 4.x).
  const client = socket.client as { writeToEngine(packets: unknown, opts: unknown): void; conn: { writeBuffer: unknown[] } };
  const write = client.writeToEngine.bind(client);
  client.writeToEngine = (packets, opts) => {
    if (client.conn.writeBuffer.length >= MAX_QUEUED_PACKETS && isCellsPacket(packets)) return;
    write(packets, opts);
  };
}

function isCellsPacket(packets: unknown): boolean {
  const first = Array.isArray(packets) ? packets[0] : packets;
  return typeof first === 'string' && first.startsWith('2["cells:');
}
