import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { handshakeRefusal } from '../../lib/origin';
import { STATIC_SECURITY_HEADERS } from '../../lib/security-headers';
import type { ErrorBody } from '../../lib/types';

/** An Engine.IO middleware (`io.engine.use`), Express-shaped. */
type EngineMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Refuses every Socket.IO request whose Host is not one of this server's names or whose Origin is
 * foreign (the HTTP rules, see origin.ts), with `403` and the contract's error body, over
 * long-polling and on a WebSocket upgrade alike. Engine.IO's own refusal (`allowRequest`) would answer
 * `{"code": 4, "message"}` to long-polling and a `400` in text/html to an upgrade. Every request is
 * checked, not only the handshake: a later poll of an open session comes from the same page.
 */
export function refuseForeignRequests(allowedOrigins: readonly string[], allowedHosts: readonly string[] | undefined): EngineMiddleware {
  return (req, res, next) => {
    const refusal = handshakeRefusal(req.headers, allowedOrigins, allowedHosts);
    if (refusal === null) return next();
    // Not passed on (no next()): the answer is given here, and Engine.IO does nothing more with it.
    if (res instanceof ServerResponse) answerRequest(res, refusal);
    // On an upgrade Engine.IO passes a stand-in that writes nothing; the connection is the request's.
    else answerUpgrade(req.socket, refusal);
  };
}

const HEADERS = { ...STATIC_SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function answerRequest(res: ServerResponse, refusal: ErrorBody): void {
  res.writeHead(403, HEADERS);
  res.end(JSON.stringify(refusal));
}

function answerUpgrade(socket: Duplex, refusal: ErrorBody): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(refusal);
  const head = Object.entries({ ...HEADERS, 'content-length': String(Buffer.byteLength(body)), connection: 'close' })
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  socket.on('error', () => undefined);
  // Destroyed once written: a client that never closes its side holds nothing here.
  socket.end(`HTTP/1.1 403 Forbidden\r\n${head}\r\n\r\n${body}`, () => socket.destroy());
}
