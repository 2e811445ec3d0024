import type { Socket } from 'socket.io';
import type { Sql } from '../../lib/db/sql';
import type { Logger } from '../../lib/log';
import { batchRoom, type ClientToServerEvents, type ServerToClientEvents } from '../../lib/realtime/events';
import { replayedPages } from './replay';
import { drained, engineOf, writeEncoded } from './socket-internals';

type RealtimeSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface SlowReaderLimits {
  /** Packets a socket may have queued before its `cells:*` events are shed. */
  maxQueuedPackets: number;
  /**
   * Shed events are sent again once the socket's queue is below this, a page at a time, each page
   * let drain below it before the next. A page is at most 20 events (10 recordings, see
   * eventPages), 40 packets with their tiles: below the bound added to this, so a page never sheds
   * itself.
   */
  resendBelow: number;
  /** A re-send that could not read its events tries again after this. */
  retryMs: number;
}

export const DEFAULT_SLOW_READER_LIMITS: Readonly<SlowReaderLimits> = Object.freeze({
  maxQueuedPackets: 64,
  resendBelow: 16,
  retryMs: 3_000,
});

/** Numbers of a batch's events this socket missed: at least one in [from, to] was shed. */
interface Missed {
  from: number;
  to: number;
}

/**
 * An event's encoded header: `2["name",…` for a text event, `5<n>-["name",…` for one with `n`
 * binary attachments (tiles), which Socket.IO writes as one array with its attachments. The main
 * namespace only: other namespaces' packets name theirs first.
 */
const BATCH_EVENT = /^(?:2|5\d+-)\["(cells:colored|cells:failed|batch:completed)",/;
/** Workers and the replay write `batchId` and `seq` first; anything else is parsed whole. */
const HEAD = /^\{"batchId":"([^"\\]+)","seq":(\d+)[,}]/;

/**
 * A client that reads slower than cells land would make its server queue every event for it,
 * without bound. Past `maxQueuedPackets` queued, this socket's `cells:*` events (text, or with
 * their tiles) are shed instead, and the numbers it missed remembered per batch: one range each,
 * not the events. Once its queue drains below `resendBelow`, the missed range is read back from
 * `cell_events` (replayedPages) and sent again to this socket only, a page at a time, each page let
 * drain first. So a plain client that never rejoins still ends with every cell, late and perhaps
 * twice, never missing; one that watches `seq` may rejoin with `afterSeq` sooner, which is harmless.
 *
 * A batch's completion waits while that batch has shed events not yet sent again, and goes after
 * them: a client may stop listening at the completion. Acks and other events always go.
 *
 * `filter` is for filterWrites (it sees the first packet of each write: a header and its
 * attachments are kept or dropped together); `left` forgets a batch the socket left; `answered`
 * hears of each join answer, whose snapshot may stand in for shed events.
 */
export function shedAndResend(socket: RealtimeSocket, sql: Sql, log: Logger, limits: SlowReaderLimits = DEFAULT_SLOW_READER_LIMITS) {
  const missed = new Map<string, Missed>();
  const heldCompletions = new Map<string, string>();
  let resending: string | null = null;
  let running = false;
  let retry: NodeJS.Timeout | null = null;
  let shed = 0;

  const conn = engineOf(socket);
  const queued = () => conn.writeBuffer.length;
  const open = () => socket.connected && conn.readyState === 'open';

  const forget = (batchId: string) => {
    missed.delete(batchId);
    heldCompletions.delete(batchId);
  };

  /** Widens a batch's missed range to take in `seq`. */
  const note = (batchId: string, seq: number) => {
    const range = missed.get(batchId);
    if (!range) missed.set(batchId, { from: seq, to: seq });
    else {
      range.from = Math.min(range.from, seq);
      range.to = Math.max(range.to, seq);
    }
  };

  /** Sends a batch's held completion, behind everything queued, to a socket still in the batch. */
  const releaseCompletion = (batchId: string) => {
    const completion = heldCompletions.get(batchId);
    if (completion === undefined) return;
    heldCompletions.delete(batchId);
    if (socket.rooms.has(batchRoom(batchId))) writeEncoded(socket, completion);
  };

  /**
   * A join answer (an ack: never shed) has just gone to the socket with every cell of the batch
   * announced after `afterSeq` through `throughSeq`: shed events among those need not go again.
   * The page rejoins with `afterSeq` on a gap, so it is not sent the same cells twice.
   */
  const answered = (batchId: string, afterSeq: number, throughSeq: number) => {
    // On another transport a large answer may have been refused instead (see sendJoinAnswer).
    if (conn.transport.name !== 'websocket' && conn.transport.name !== 'polling') return;
    const range = missed.get(batchId);
    if (!range || range.from <= afterSeq) return;
    if (range.to <= throughSeq) missed.delete(batchId);
    else range.from = Math.max(range.from, throughSeq + 1);
    if (!missed.has(batchId) && resending !== batchId) releaseCompletion(batchId);
  };

  /** Sends one batch's missed events again; false if the socket went away meanwhile. */
  const resendBatch = async (batchId: string, range: Missed): Promise<boolean> => {
    let sent = 0;
    for await (const page of replayedPages(sql, batchId, range.from - 1, range.to)) {
      // Each page goes once the last has drained: the socket's queue stays below the bound.
      while (open() && queued() >= limits.resendBelow) await drained(socket, limits.resendBelow, limits.retryMs);
      if (!open() || !socket.rooms.has(batchRoom(batchId))) return open();
      for (const { events } of page)
        for (const event of events) {
          if (event.name === 'cells:colored') socket.emit('cells:colored', event.payload);
          else socket.emit('cells:failed', event.payload);
          sent++;
        }
    }
    log.debug('sent shed events again to a slow reader', { batchId, fromSeq: range.from, toSeq: range.to, events: sent });
    return open();
  };

  const resendAll = async () => {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const next = missed.entries().next();
        if (next.done || !open()) break;
        const [batchId, range] = next.value;
        missed.delete(batchId);
        resending = batchId;
        try {
          if (!socket.rooms.has(batchRoom(batchId))) {
            forget(batchId);
            continue;
          }
          if (!(await resendBatch(batchId, range))) break;
        } catch (err) {
          // Put the range back (merged with anything shed since) and try again in a while.
          note(batchId, range.from);
          note(batchId, range.to);
          log.warn('could not send shed events again; trying again shortly', { batchId, err });
          retry ??= setTimeout(() => {
            retry = null;
            void resendAll();
          }, limits.retryMs);
          break;
        } finally {
          resending = null;
        }
        if (!missed.has(batchId)) releaseCompletion(batchId);
      }
    } finally {
      running = false;
    }
  };

  const onDrain = () => {
    if (missed.size > 0 && queued() < limits.resendBelow) void resendAll();
  };
  conn.on('drain', onDrain);
  socket.on('disconnect', () => {
    conn.off('drain', onDrain);
    if (retry) clearTimeout(retry);
    missed.clear();
    heldCompletions.clear();
    if (shed > 0) log.info('a slow reader left with events shed for it', { shed });
  });

  const filter = (packet: unknown, queuedNow: number): boolean => {
    if (typeof packet !== 'string') return true;
    const name = BATCH_EVENT.exec(packet)?.[1];
    if (!name) return true;
    const completion = name === 'batch:completed';
    if (!completion && queuedNow < limits.maxQueuedPackets) return true;
    const event = readBatchEvent(packet);
    if (!event) return true;
    if (completion) {
      if (!missed.has(event.batchId) && resending !== event.batchId) return true;
      heldCompletions.set(event.batchId, packet);
      return false;
    }
    // Unnumbered cells (a test's marker) cost nothing to keep and could not be read back.
    if (event.seq === null || event.seq < 1) return true;
    if (shed === 0) log.info('a client reads slower than events come; shedding and sending again later', { batchId: event.batchId });
    shed++;
    note(event.batchId, event.seq);
    return false;
  };

  return { filter, left: forget, answered };
}

/**
 * The name, batch id and number (null if it has none) of an encoded `cells:*` or `batch:completed`
 * event on the main namespace, text or binary header; null for any other packet.
 */
export function readBatchEvent(packet: string): { name: string; batchId: string; seq: number | null } | null {
  const match = BATCH_EVENT.exec(packet);
  if (!match) return null;
  const at = match[0].length;
  const head = HEAD.exec(packet.slice(at, at + 120));
  if (head) return { name: match[1], batchId: head[1], seq: Number(head[2]) };
  try {
    const payload = (JSON.parse(packet.slice(packet.indexOf('['))) as [string, { batchId?: unknown; seq?: unknown }])[1];
    const { batchId, seq } = payload ?? {};
    if (typeof batchId !== 'string') return null;
    return { name: match[1], batchId, seq: typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : null };
  } catch {
    return null;
  }
}
