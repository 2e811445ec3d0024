import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'socket.io';

/**
 * Where we lean on Socket.IO's and Engine.IO's internals (socket.io 4.8, engine.io 6.6, ws 8), all in
 * one place. tests/integration/join-limits.test.ts, replay.test.ts, slow-reader.test.ts and
 * listen-recovery.test.ts fail
 * when an update breaks any of it:
 * - `socket.ack(id)`: the function that builds a packet's acknowledgement (to learn the packet id);
 * - `socket.client.writeToEngine(packets, opts)`: a connection's write path, with packets encoded
 *   (`2["event",…]` for an event on the main namespace, `3<id>[…]` for an acknowledgement);
 * - `conn.transport.writable` and `conn.flush()`: Engine.IO writes its buffer only while the
 *   transport is writable, so holding it false keeps everything else off the wire for a moment;
 * - `conn.transport.socket`: the `ws` WebSocket under the websocket transport, whose
 *   `send(text, { fin: false })` writes one message in fragments;
 * - `conn.transport.req`/`res`: the long-polling GET waiting for data (set, with `writable`, while
 *   one waits), `req.cleanup()` to let it go once answered, and `transport.headers(req, headers)`,
 *   the headers Engine.IO gives its own answers;
 * - `conn.pingTimeoutTimer`: set while a ping waits for its pong (a Node timer, or null);
 * - `conn.writeBuffer`, the packets queued for the transport, and the connection's `drain` event,
 *   emitted each time that queue is handed to the transport (so it is empty right after);
 * - an event with binary attachments is encoded as one array, its header (`5<n>-[…`) first, and
 *   written at once: filterWrites keeps or drops the header and its attachments together.
 */

interface EngineTransport {
  name: string;
  writable: boolean;
  socket?: WsSocket;
  req?: (IncomingMessage & { cleanup?: () => void }) | null;
  res?: ServerResponse | null;
  headers?(req: IncomingMessage, headers: Record<string, string>): Record<string, string>;
  once(event: 'ready' | 'close', listener: () => void): void;
  off(event: 'ready' | 'close', listener: () => void): void;
}

interface WsSocket {
  readyState: number;
  send(data: string, options: { fin: boolean; binary: boolean; compress: boolean }, cb: (err?: Error) => void): void;
  terminate(): void;
}

interface EngineSocket {
  readyState: string;
  pingTimeoutTimer: NodeJS.Timeout | null;
  transport: EngineTransport;
  writeBuffer: unknown[];
  flush(): void;
  close(discard: boolean): void;
  on(event: 'drain', listener: () => void): void;
  once(event: 'close' | 'drain' | 'upgrade', listener: () => void): void;
  off(event: 'close' | 'drain' | 'upgrade', listener: () => void): void;
}

interface SocketClient {
  conn: EngineSocket;
  writeToEngine(packets: unknown, opts: unknown): void;
}

const clientOf = (socket: Socket) => socket.client as unknown as SocketClient;

export const engineOf = (socket: Socket): EngineSocket => clientOf(socket).conn;

const ACK_IDS = new WeakMap<object, number>();

/** Remembers the packet id behind each acknowledgement function this socket hands its handlers. */
export function rememberAckIds(socket: Socket): void {
  const internal = socket as unknown as { ack(id: number): (...args: unknown[]) => void };
  const build = internal.ack.bind(socket);
  internal.ack = (id: number) => {
    const ack = build(id);
    ACK_IDS.set(ack, id);
    return ack;
  };
}

/** The packet id an acknowledgement answers, if rememberAckIds saw it built. */
export function ackIdOf(ack: unknown): number | undefined {
  return typeof ack === 'function' ? ACK_IDS.get(ack) : undefined;
}

/** Writes one encoded Socket.IO packet (`3<id>[…]`) on the connection, behind what is queued. */
export function writeEncoded(socket: Socket, packet: string): void {
  clientOf(socket).writeToEngine(packet, {});
}

/**
 * Runs every write bound for this socket past `filter` first, given its first packet (an event's
 * header, for one with attachments); a write it refuses is not sent, attachments included.
 * `queued` is how many packets wait in the connection's buffer.
 */
export function filterWrites(socket: Socket, filter: (packet: unknown, queued: number) => boolean): void {
  const client = clientOf(socket);
  const write = client.writeToEngine.bind(client);
  client.writeToEngine = (packets, opts) => {
    if (filter(Array.isArray(packets) ? packets[0] : packets, client.conn.writeBuffer.length)) write(packets, opts);
  };
}

/** Resolves once the connection's queued packets went to its transport, it closed, or `ms` passed. */
export function drained(socket: Socket, below: number, ms: number): Promise<void> {
  const conn = engineOf(socket);
  if (conn.writeBuffer.length < below || conn.readyState !== 'open') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      conn.off('drain', done);
      conn.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    conn.once('drain', done);
    conn.once('close', done);
  });
}

/**
 * One message written in pieces straight onto a socket's connection while Engine.IO holds back
 * everything else (its packets queue and go right after): on WebSocket, one message in fragments;
 * on long-polling, the body of the waiting GET, streamed.
 */
export interface FragmentWriter {
  /** Writes a fragment; resolves once it has left the process (the socket drained it). */
  write(text: string, last: boolean): Promise<void>;
  /** Hands the wire back to Engine.IO. Safe to call more than once. */
  release(): void;
  /** Ends the connection at once: a message cut short cannot be taken back. */
  abort(): void;
}

export class WireClosedError extends Error {
  override name = 'WireClosedError';
}

export class WireStalledError extends Error {
  override name = 'WireStalledError';
}

/**
 * Waits until Engine.IO is not writing on this socket's connection (on long-polling: until the
 * client's next GET waits for data), then takes the wire. `stallMs`: a piece not drained within
 * it, or no GET within it, means the client stopped reading. `null` on any other transport.
 */
export async function takeWire(socket: Socket, stallMs: number): Promise<FragmentWriter | null> {
  const conn = engineOf(socket);
  const deadline = Date.now() + stallMs;
  for (;;) {
    const transport = conn.transport;
    if (conn.readyState !== 'open') throw new WireClosedError('The connection closed.');
    const polling = transport.name === 'polling';
    if (!polling && (transport.name !== 'websocket' || !transport.socket)) return null;
    if (transport.writable) {
      if (!polling) return fragmentWriter(conn, transport, transport.socket!, stallMs);
      if (transport.req && transport.res) return pollWriter(conn, transport, transport.req, transport.res, stallMs);
    }
    if (Date.now() >= deadline) {
      // What Engine.IO last wrote has not drained for stallMs, or no GET came: the client reads nothing.
      if (polling) conn.close(true);
      else transport.socket!.terminate();
      throw new WireStalledError(`The client read nothing for ${stallMs} ms.`);
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        transport.off('ready', done);
        conn.off('close', done);
        conn.off('upgrade', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      transport.once('ready', done);
      conn.once('close', done);
      conn.once('upgrade', done);
    });
  }
}

/**
 * The waiting GET's body as the wire: Engine.IO's payload of one packet is the packet's text, so
 * pieces go out as they come, each once the last has drained. Once answered, the GET is let go and
 * Engine.IO's queue goes out with the client's next one.
 */
function pollWriter(
  conn: EngineSocket,
  transport: EngineTransport,
  req: IncomingMessage & { cleanup?: () => void },
  res: ServerResponse,
  stallMs: number,
): FragmentWriter {
  transport.writable = false;
  const contentType = { 'Content-Type': 'text/plain; charset=UTF-8' };
  res.writeHead(200, transport.headers ? transport.headers(req, contentType) : contentType);
  let held = true;
  const letGo = () => {
    if (!held) return;
    held = false;
    req.cleanup?.();
  };
  return {
    write: (text, last) =>
      new Promise<void>((resolve, reject) => {
        if (res.destroyed) return reject(new WireClosedError('The connection closed.'));
        const timer = setTimeout(() => {
          res.destroy();
          reject(new WireStalledError(`The client read nothing for ${stallMs} ms.`));
        }, stallMs);
        const done = (err?: Error | null) => {
          clearTimeout(timer);
          res.off('drain', done);
          res.off('close', closed);
          if (err) return reject(new WireClosedError('The connection closed.', { cause: err }));
          // As on WebSocket: the ping waits behind this answer, and a client that drains it is alive.
          conn.pingTimeoutTimer?.refresh();
          resolve();
        };
        const closed = () => done(new Error('The response closed.'));
        res.once('close', closed);
        if (last) {
          // Let go of the GET before it ends, as Engine.IO does: its close would read as the client
          // leaving, and a later release could clear the client's next GET in its place.
          letGo();
          res.end(text, () => done());
        } else if (res.write(text)) done();
        else res.once('drain', done);
      }),
    // Let go with the last piece; a writer given up before it ended was aborted.
    release: () => undefined,
    abort: () => {
      held = false;
      // Engine.IO hears the GET close early and ends the session.
      res.destroy();
    },
  };
}

function fragmentWriter(conn: EngineSocket, transport: EngineTransport, ws: WsSocket, stallMs: number): FragmentWriter {
  transport.writable = false;
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    if (conn.readyState !== 'open') return;
    transport.writable = true;
    conn.flush();
  };
  return {
    write: (text, last) =>
      new Promise<void>((resolve, reject) => {
        if (ws.readyState !== 1) return reject(new WireClosedError('The connection closed.'));
        const timer = setTimeout(() => {
          ws.terminate();
          reject(new WireStalledError(`The client read nothing for ${stallMs} ms.`));
        }, stallMs);
        ws.send(text, { fin: last, binary: false, compress: false }, (err) => {
          clearTimeout(timer);
          if (err) return reject(new WireClosedError('The connection closed.', { cause: err }));
          // Engine.IO's ping waits behind this message, so its pong cannot come; a client that keeps
          // draining fragments is alive, and the stall timer above catches one that is not.
          conn.pingTimeoutTimer?.refresh();
          resolve();
        });
      }),
    release,
    abort: () => {
      held = false;
      ws.terminate();
    },
  };
}

/** Waits (up to `ms`) for a connection still on long-polling to move to the websocket transport. */
export function upgraded(socket: Socket, ms: number): Promise<boolean> {
  const conn = engineOf(socket);
  if (conn.transport.name === 'websocket') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      conn.off('upgrade', done);
      conn.off('close', done);
      resolve(conn.transport.name === 'websocket' && conn.readyState === 'open');
    };
    const timer = setTimeout(done, ms);
    conn.once('upgrade', done);
    conn.once('close', done);
  });
}
