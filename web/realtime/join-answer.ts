import type { Socket } from 'socket.io';
import type { JoinAck } from '../../lib/realtime/events';
import { ackIdOf, takeWire, upgraded, WireStalledError, writeEncoded } from './socket-internals';

/** How a join answer goes out; see sendJoinAnswer. */
export interface AnswerWire {
  /** A piece of answer text is this long at least, except the last. */
  pieceBytes: number;
  /** A fragment the client has not read within this long ends its connection. */
  stallMs: number;
  /** How long an answer too big for one piece waits, on a transport it cannot stream on, for an upgrade to WebSocket. */
  upgradeWaitMs: number;
}

export const DEFAULT_ANSWER_WIRE: Readonly<AnswerWire> = Object.freeze({ pieceBytes: 256 * 1024, stallMs: 30_000, upgradeWaitMs: 10_000 });

const TOO_BIG_FOR_POLLING: JoinAck = {
  ok: false,
  error: {
    code: 'unavailable',
    message:
      'This answer is too large for this transport. Connect with the WebSocket transport, or join with maxCells and read the cells from GET /api/batches/:id/cells.',
  },
};

/**
 * Sends a join's answer, given as JSON text in pieces (joinAnswerText), as the acknowledgement the
 * client asked for: to the client it is one ordinary Socket.IO ack, whatever its size, so every v1
 * client gets every cell in it.
 *
 * An answer that fits one piece goes out as an ordinary packet. A bigger one is written a piece at a
 * time, as one WebSocket message in fragments or, on long-polling, as the streamed body of the
 * client's waiting GET: the next piece is built only once the last has left the process (or been
 * taken by the socket below its high-water mark), so a join holds about one piece however large the
 * batch and however slowly the client reads. While the message is on the wire, the connection's other packets wait in Engine.IO's
 * buffer (cells events past a bound are shed as for any slow reader) and follow it. A client that
 * reads nothing for `stallMs` is disconnected; a failure half-way (PostgreSQL gone) also ends the
 * connection, since half a message cannot be taken back: the client reconnects and joins again.
 *
 * Resolves once the answer has left the process (or was given up on); rejects only when nothing
 * has been sent yet, so the caller can still answer with an error.
 */
export async function sendJoinAnswer(
  socket: Socket,
  ack: (answer: JoinAck) => void,
  pieces: AsyncGenerator<string, void, undefined>,
  wire: AnswerWire,
): Promise<void> {
  const id = ackIdOf(ack);
  if (id === undefined) throw new Error('The join acknowledgement has no packet id: socket-internals.ts no longer matches Socket.IO.');
  const prefix = `3${id}[`;
  try {
    const first = await pieces.next();
    const head = first.done ? '' : first.value;
    if (head.length < wire.pieceBytes) return writeEncoded(socket, `${prefix}${head}]`);

    let writer = await wireOrCut(socket, wire.stallMs);
    if (!writer) {
      if (!(await upgraded(socket, wire.upgradeWaitMs))) return ack(TOO_BIG_FOR_POLLING);
      writer = await wireOrCut(socket, wire.stallMs);
      if (!writer) return ack(TOO_BIG_FOR_POLLING);
    }
    try {
      // "4": an Engine.IO message, as Engine.IO itself would frame the packet.
      await writer.write(`4${prefix}${head}`, false);
      for (let next = await pieces.next(); !next.done; next = await pieces.next()) await writer.write(next.value, false);
      await writer.write(']', true);
      writer.release();
    } catch (err) {
      writer.abort();
      throw new AnswerCutShortError(err);
    }
  } finally {
    await pieces.return();
  }
}

/** takeWire; a client that never lets go of the wire has had its connection ended. */
async function wireOrCut(socket: Socket, stallMs: number) {
  try {
    return await takeWire(socket, stallMs);
  } catch (err) {
    throw err instanceof WireStalledError ? new AnswerCutShortError(err) : err;
  }
}

/** The answer was half sent when something failed; the connection has been ended. */
export class AnswerCutShortError extends Error {
  override name = 'AnswerCutShortError';
  constructor(cause: unknown) {
    super('A join answer was cut short; its connection was ended so that the client joins again.', { cause });
  }
}
