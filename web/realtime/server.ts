import type { Server as HttpServer } from 'node:http';
import type pg from 'pg';
import { Server } from 'socket.io';
import { isBatchId } from '../../lib/batches/validate';
import { findBatch } from '../../lib/db/batches';
import { PAGE_ROWS } from '../../lib/db/cells';
import type { Sql } from '../../lib/db/sql';
import { postgresAdapter } from './postgres-adapter';
import { STATIC_SECURITY_HEADERS } from '../../lib/security-headers';
import type { Logger } from '../../lib/log';
import { Budget } from './budget';
import { createJoinLimiter, DEFAULT_JOIN_LIMITS, type JoinLimits } from './join-limits';
import { AnswerCutShortError, DEFAULT_ANSWER_WIRE, sendJoinAnswer, type AnswerWire } from './join-answer';
import { joinAnswerBytes, joinAnswerText } from './join-answer-text';
import { refuseForeignRequests } from './handshake-guard';
import { createJoinQueue } from './join-queue';
import { DEFAULT_REPLAY, startReplay, type ReplayOptions } from './replay';
import { DEFAULT_SLOW_READER_LIMITS, shedAndResend, type SlowReaderLimits } from './shed-resend';
import { filterWrites, rememberAckIds } from './socket-internals';
import { batchRoom, type ClientToServerEvents, type JoinAck, type JoinOptions, type ServerToClientEvents } from '../../lib/realtime/events';
import { hasEnded } from '../../lib/types';

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

const UNAVAILABLE: JoinAck = {
  ok: false,
  error: { code: 'unavailable', message: 'The server could not read this batch right now. Try again in a moment.' },
};

/**
 * What join answers may cost the whole process at once: bytes held while answers are built and
 * sent (see joinAnswerBytes; a join past it waits its turn), and snapshot statements in flight on
 * the web pool, so joins never take more than a few of its connections.
 */
export interface SnapshotLimits {
  budgetBytes: number;
  readers: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: Readonly<SnapshotLimits> = Object.freeze({ budgetBytes: 64 * 1024 * 1024, readers: 3 });

export interface RealtimeOptions {
  /** Origins besides the server's own whose pages may connect (see isOriginAllowed). */
  allowedOrigins?: readonly string[];
  /** Host names this server answers to (see isHostAllowed); the loopback names when not given. */
  allowedHosts?: readonly string[];
  joinLimits?: Partial<JoinLimits>;
  snapshotLimits?: Partial<SnapshotLimits>;
  answerWire?: Partial<AnswerWire>;
  replay?: Partial<ReplayOptions>;
  /** How far behind a socket may fall before its `cells:*` events are shed (and sent again later). */
  slowReaders?: Partial<SlowReaderLimits>;
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
  const snapshotLimits: SnapshotLimits = { ...DEFAULT_SNAPSHOT_LIMITS, ...options.snapshotLimits };
  const answerWire: AnswerWire = { ...DEFAULT_ANSWER_WIRE, ...options.answerWire };
  const slowReaders: SlowReaderLimits = { ...DEFAULT_SLOW_READER_LIMITS, ...options.slowReaders };
  const answerBytes = new Budget(snapshotLimits.budgetBytes);
  const readers = new Budget(snapshotLimits.readers);
  const snapshotSql: Sql = { query: (text, values) => readers.run(1, () => pool.query(text, values)) };
  // Set once io exists: the adapter's LISTEN connection reports to it each time it listens again.
  let onListening = () => undefined as void;
  const io: RealtimeServer = new Server(httpServer, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // A cells event repeats the same keys for every cell: permessage-deflate (negotiated by every
    // browser and by socket.io-client, so v1 clients need nothing new) takes a 100,000-cell batch
    // from about 40 to under 10 bytes per cell on the wire. Small frames (pings, acks) go as they
    // are. Long-polling answers are gzipped already (Engine.IO's httpCompression).
    perMessageDeflate: { threshold: 1024 },
    // server.ts routes the upgrades that are not ours (Next's hot reload in development).
    destroyUpgrade: false,
    adapter: postgresAdapter(db.connectionString, pool, () => onListening(), log),
  });

  // The same Host and Origin rules as HTTP: a DNS-rebinding page or a page of a foreign origin may
  // not open a socket (browsers always send Origin on a WebSocket handshake; scripts without one are let in).
  io.engine.use(refuseForeignRequests(allowedOrigins, options.allowedHosts));
  // Long-polling answers bypass the page handler; they carry the same headers.
  io.engine.on('initial_headers', (headers: Record<string, string>) => Object.assign(headers, STATIC_SECURITY_HEADERS));
  io.engine.on('headers', (headers: Record<string, string>) => Object.assign(headers, STATIC_SECURITY_HEADERS));

  const replay = startReplay(io, pool, log, { ...DEFAULT_REPLAY, ...options.replay });
  onListening = () => replay.listening();

  io.on('connection', (socket) => {
    rememberAckIds(socket);
    // Re-sends read on the snapshot readers' budget: many slow sockets never take over the web pool.
    const slow = shedAndResend(socket, snapshotSql, log, slowReaders);
    const once = onceCompleted();
    filterWrites(socket, (packet, queued) => slow.filter(packet, queued) && once(packet));
    replay.watch(socket);
    const takeJoin = createJoinLimiter(limits);
    const joins = createJoinQueue(limits.burst);
    socket.on('disconnect', () => joins.close());

    /** Answers one join; the socket's join queue runs one at a time. */
    const answerJoin = async (batchId: string, options: JoinOptions | null, ack: (answer: JoinAck) => void) => {
      if (!socket.connected) return;
      if (!socket.rooms.has(batchRoom(batchId)) && joinedBatches(socket.rooms) >= limits.maxBatches) {
        return ack({
          ok: false,
          error: {
            code: 'too_many_joined',
            message: `This connection follows ${limits.maxBatches} batches already, the most allowed; leave one (batch:leave) first.`,
          },
        });
      }
      const afterSeq = parseCount(options?.afterSeq);
      let release: (() => void) | undefined;
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
        release = await answerBytes.take(joinAnswerBytes(batch, answerWire.pieceBytes, PAGE_ROWS));
        const text = joinAnswerText(snapshotSql, { batch, afterSeq, cellsOmitted }, answerWire.pieceBytes);
        await sendJoinAnswer(socket, ack, text, answerWire);
        if (!cellsOmitted) slow.answered(batchId, afterSeq ?? 0, batch.seq);
        replay.joined(batchId, batch.seq, hasEnded(batch.status));
      } catch (err) {
        if (err instanceof AnswerCutShortError) log.warn('batch:join answer cut short; connection ended', { batchId, err });
        else {
          log.warn('batch:join failed', { batchId, err });
          ack(UNAVAILABLE);
        }
      } finally {
        release?.();
      }
    };

    socket.on('batch:join', (batchId, optionsOrAck, maybeAck) => {
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
      const options = typeof optionsOrAck === 'object' && optionsOrAck !== null ? optionsOrAck : null;
      // At most one join in flight per socket: later ones wait their turn (see createJoinQueue).
      if (!joins.run(() => answerJoin(batchId, options, ack))) ack(RATE_LIMITED);
    });

    socket.on('batch:leave', (batchId) => {
      if (!isBatchId(batchId)) return;
      slow.left(batchId);
      void socket.leave(batchRoom(batchId));
    });
  });

  const close = () =>
    new Promise<void>((resolve) => {
      replay.close();
      void io.close(() => resolve());
    });
  return { io, close };
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

const COMPLETED_PREFIX = '2["batch:completed",';

/**
 * `batch:completed` reaches a socket once per batch, as the contract says, though a replay after a
 * lost LISTEN connection and the adapter can both carry the same one when it committed just as the
 * adapter listened again (see replay.ts). The packet is small, so reading its batch id costs little.
 */
function onceCompleted(): (packet: unknown) => boolean {
  const completed = new Set<string>();
  return (packet) => {
    if (typeof packet !== 'string' || !packet.startsWith(COMPLETED_PREFIX)) return true;
    const batchId = (JSON.parse(packet.slice(1)) as [string, { batchId?: unknown }])[1]?.batchId;
    if (typeof batchId !== 'string') return true;
    if (completed.has(batchId)) return false;
    completed.add(batchId);
    return true;
  };
}
