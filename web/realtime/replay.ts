import type pg from 'pg';
import type { Socket } from 'socket.io';
import { findBatch } from '../../lib/db/batches';
import { eventPages, type RecordedEvent } from '../../lib/db/cells';
import type { Sql } from '../../lib/db/sql';
import type { Logger } from '../../lib/log';
import { type ColoredCell, type FailedCell, hasEnded } from '../../lib/types';
import { batchRoom, completedEvent, type CellsColoredEvent, type CellsFailedEvent } from '../../lib/realtime/events';
import type { RealtimeServer } from './server';
import { drained } from './socket-internals';

const ROOM_PREFIX = batchRoom('');

/**
 * Where a room of this web server stands in its batch's sequence: every event numbered below
 * `next` has been delivered to it (or was in the snapshot of the join that made the room), and
 * `ahead` holds numbers delivered past a gap. `next` is null until the first join has answered.
 */
interface Cursor {
  next: number | null;
  ahead: Set<number>;
  /** The room has had its batch's completion (as an event, or in the first join's snapshot). */
  completed: boolean;
  /** A replay was asked for before the room's first join answered. */
  replayOnJoin: boolean;
  replaying: Promise<void> | null;
  again: boolean;
  /** The batch's seq at the previous safety-net check, for rooms still short of it. */
  seenSeq: number | null;
}

export interface ReplayOptions {
  /** How often the safety net compares each room with PostgreSQL. */
  checkMs: number;
  /** A socket holding this many packets is let drain before the next page of a replay. */
  drainBelow: number;
}

export const DEFAULT_REPLAY: Readonly<ReplayOptions> = Object.freeze({ checkMs: 3_000, drainBelow: 32 });

/**
 * Keeps every room of this web server whole when its LISTEN connection was lost: PostgreSQL
 * delivers a notification only to connections listening when it commits, so the events committed
 * while the adapter reconnected never arrive. See docs/architecture.md, "Nothing missed".
 *
 * It follows, per batch room, the last event number delivered (from each socket's outgoing events).
 * When the adapter listens again (`listening()`), it reads from PostgreSQL every event after that
 * number up to the batch's current one and emits them to the room on this server only — each web
 * server replays for its own rooms, so nothing doubles across servers — then the completion, if
 * the batch ended and the room has not had it. Events committed after the adapter listened again
 * come through it as usual: the batch row is read after LISTEN, and numbers are given in commit
 * order, so everything up to the batch's seq was committed before the read. A cell may reach a
 * socket twice (the contract allows it); a completion never does (see onceCompleted in server.ts).
 *
 * A safety net compares each room still expecting events with its batch every `checkMs`, and
 * replays what stayed missing for a whole interval: a lost attachment fetch, a connection that
 * died without a word.
 */
export function startReplay(io: RealtimeServer, pool: pg.Pool, log: Logger, options: ReplayOptions = DEFAULT_REPLAY) {
  const nsp = io.of('/');
  const cursors = new Map<string, Cursor>();
  const batchOf = (room: string) => (room.startsWith(ROOM_PREFIX) ? room.slice(ROOM_PREFIX.length) : null);

  const onCreate = (room: string) => {
    const id = batchOf(room);
    if (id)
      cursors.set(id, {
        next: null,
        ahead: new Set(),
        completed: false,
        replayOnJoin: false,
        replaying: null,
        again: false,
        seenSeq: null,
      });
  };
  const onDelete = (room: string) => {
    const id = batchOf(room);
    if (id) cursors.delete(id);
  };
  nsp.adapter.on('create-room', onCreate);
  nsp.adapter.on('delete-room', onDelete);

  const advance = (cursor: Cursor) => {
    if (cursor.next === null) return;
    for (const seq of cursor.ahead) if (seq < cursor.next) cursor.ahead.delete(seq);
    while (cursor.ahead.delete(cursor.next)) cursor.next++;
  };

  /** Notes an event on its way to a socket of the batch's room. */
  const delivered = (event: string, payload: unknown) => {
    if (event !== 'cells:colored' && event !== 'cells:failed' && event !== 'batch:completed') return;
    const { batchId, seq } = payload as { batchId?: unknown; seq?: unknown };
    const cursor = typeof batchId === 'string' ? cursors.get(batchId) : undefined;
    if (!cursor || typeof seq !== 'number' || seq < 1) return;
    if (event === 'batch:completed') cursor.completed = true;
    if (cursor.next === null || seq >= cursor.next) cursor.ahead.add(seq);
    advance(cursor);
  };

  const replayRoom = async (batchId: string, cursor: Cursor) => {
    const room = batchRoom(batchId);
    const batch = await findBatch(pool, batchId);
    if (!batch || cursor.next === null || cursors.get(batchId) !== cursor) return;
    let replayed = 0;
    for await (const page of replayedPages(pool, batchId, cursor.next - 1, batch.seq)) {
      for (const { seq, events } of page) {
        if (cursor.ahead.has(seq) || seq < cursor.next) continue;
        for (const replayedEvent of events) {
          if (replayedEvent.name === 'cells:colored') io.local.to(room).emit('cells:colored', replayedEvent.payload);
          else io.local.to(room).emit('cells:failed', replayedEvent.payload);
          replayed++;
        }
      }
      // Bounded queues: each socket takes a page before the next one is read.
      await Promise.all(socketsIn(room).map((s) => drained(s, options.drainBelow, 2_000)));
    }
    if (hasEnded(batch.status) && !cursor.completed) {
      io.local.to(room).emit('batch:completed', completedEvent(batch));
      cursor.completed = true;
      replayed++;
    }
    cursor.next = Math.max(cursor.next, batch.seq + 1);
    advance(cursor);
    if (replayed > 0) log.info('replayed missed events to a room', { batchId, events: replayed, throughSeq: batch.seq });
  };

  const socketsIn = (room: string): Socket[] =>
    [...(nsp.adapter.rooms.get(room) ?? [])]
      .map((id) => nsp.sockets.get(id))
      .filter((s): s is NonNullable<typeof s> => s !== undefined) as unknown as Socket[];

  /** Replays one room, once at a time; a request during a replay runs another after it. */
  const replay = (batchId: string) => {
    const cursor = cursors.get(batchId);
    if (!cursor) return Promise.resolve();
    if (cursor.next === null) {
      cursor.replayOnJoin = true;
      return Promise.resolve();
    }
    if (cursor.replaying) {
      cursor.again = true;
      return cursor.replaying;
    }
    cursor.replaying = (async () => {
      do {
        cursor.again = false;
        try {
          await replayRoom(batchId, cursor);
        } catch (err) {
          log.warn('replay of missed events failed; the safety net tries again', { batchId, err });
        }
      } while (cursor.again);
      cursor.replaying = null;
    })();
    return cursor.replaying;
  };

  /** The safety net: rooms behind their batch for a whole interval are replayed. */
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      for (const [batchId, cursor] of cursors) {
        if (cursor.next === null || (cursor.completed && cursor.ahead.size === 0) || cursor.replaying) continue;
        const batch = await findBatch(pool, batchId);
        if (!batch) continue;
        const behind = cursor.seenSeq !== null && cursor.next <= cursor.seenSeq;
        cursor.seenSeq = batch.seq >= cursor.next ? batch.seq : null;
        if (behind) void replay(batchId);
      }
    } catch (err) {
      log.debug('replay safety net could not read batches', { err });
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), options.checkMs);

  return {
    /** Every socket of the main namespace reports what it is sent. */
    watch(socket: Socket) {
      socket.onAnyOutgoing(delivered);
    },
    /** A join answered with everything up to `seq`; the first one places its room's cursor. */
    joined(batchId: string, seq: number, ended: boolean) {
      const cursor = cursors.get(batchId);
      if (!cursor || cursor.next !== null) return;
      cursor.next = seq + 1;
      cursor.completed ||= ended;
      advance(cursor);
      if (cursor.replayOnJoin) {
        cursor.replayOnJoin = false;
        void replay(batchId);
      }
    },
    /** The adapter listens again after losing its connection: replay every room. */
    listening() {
      for (const batchId of cursors.keys()) void replay(batchId);
    },
    close() {
      clearInterval(timer);
      nsp.adapter.off('create-room', onCreate);
      nsp.adapter.off('delete-room', onDelete);
    },
  };
}

export type Replay = ReturnType<typeof startReplay>;

/** A `cells:*` event read back from PostgreSQL, as a worker sent it. */
export type ReplayedEvent = { name: 'cells:colored'; payload: CellsColoredEvent } | { name: 'cells:failed'; payload: CellsFailedEvent };

/**
 * The `cells:*` events of a batch numbered after `afterSeq` through `throughSeq`, read back from
 * `cell_events` a page at a time, each number with the events it stands for. The one reader of
 * event pages for everything that sends events again: this module's replay after a lost LISTEN
 * connection, and the re-sending of events shed for a slow reader (shed-resend.ts).
 */
export async function* replayedPages(
  sql: Sql,
  batchId: string,
  afterSeq: number,
  throughSeq: number,
): AsyncGenerator<{ seq: number; events: ReplayedEvent[] }[]> {
  for await (const page of eventPages(sql, batchId, afterSeq, throughSeq))
    yield page.map((event) => ({ seq: event.seq, events: eventsOf(batchId, event, page) }));
}

/**
 * The events one recorded event stands for, as the worker sent them: the colours of its recording
 * under the first number the recording was given, its failures under the last (a worker records
 * colours and failures under one number each, colours first). Tiles travel with their cells.
 */
function eventsOf(batchId: string, event: RecordedEvent, page: RecordedEvent[]): ReplayedEvent[] {
  const numbers = page.filter((e) => e.recording === event.recording).map((e) => e.seq);
  const colored: ColoredCell[] = [];
  const tiles: Buffer[] = [];
  const failed: FailedCell[] = [];
  for (const c of event.cells) {
    if (c.color !== null) {
      colored.push({ row: c.row, col: c.col, color: c.color });
      if (c.tile) tiles.push(c.tile);
    } else if (c.error !== null) failed.push({ row: c.row, col: c.col, error: c.error });
  }
  const worker = event.cells[0]?.worker;
  const first = event.seq === Math.min(...numbers);
  const last = event.seq === Math.max(...numbers);
  const out: ReplayedEvent[] = [];
  const coloredHere = colored.length > 0 && (first || failed.length === 0);
  const failedHere = failed.length > 0 && (last || colored.length === 0);
  if (coloredHere) {
    const payload: CellsColoredEvent = { batchId, seq: event.seq, cells: colored, worker };
    if (tiles.length === colored.length) payload.tiles = Buffer.concat(tiles);
    out.push({ name: 'cells:colored', payload });
  }
  if (failedHere && !(coloredHere && numbers.length > 1))
    out.push({ name: 'cells:failed', payload: { batchId, seq: event.seq, cells: failed } });
  return out;
}
