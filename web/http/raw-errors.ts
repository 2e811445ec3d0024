import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATIC_SECURITY_HEADERS } from '../../lib/security-headers';

// The methods Next's route handlers can answer; it refuses any other with an empty 400.
const ROUTE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH']);

function body(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * A path with broken percent-encoding (`/api/batches/%E0%A4%A`): Next would answer a bare-text 500.
 * It is the client's mistake, so 400 in the error shape.
 */
export function answerMalformedPath(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  try {
    decodeURIComponent(path);
    return false;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body('bad_request', 'The URL path is not valid percent-encoding. Check the link.'));
    return true;
  }
}

/** An /api request with a method no endpoint knows (TRACE, PROPFIND, …): 501 in the error shape. */
export function answerUnknownApiMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (ROUTE_METHODS.has(req.method ?? '') || !(req.url ?? '').startsWith('/api')) return false;
  res.writeHead(501, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body('not_implemented', 'This server does not support that HTTP method. The API uses GET and POST.'));
  return true;
}

/**
 * Node's answer to a request it cannot parse (oversized headers, a malformed request line or
 * Content-Length), in the contract's shape instead of a bare status line. The connection is closed:
 * after a parse error its remaining bytes cannot be trusted.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  // A response already under way on this connection (Node's own handler checks the same) cannot be
  // followed by another; nor can a connection the client has gone from.
  if (!socket.writable || err.code === 'ECONNRESET' || (socket as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, payload] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [
          '431 Request Header Fields Too Large',
          body('headers_too_large', 'The request headers are too large. Send fewer or shorter headers.'),
        ]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', body('request_timeout', 'The request took too long to arrive. Send it again.')]
        : ['400 Bad Request', body('bad_request', 'The request could not be parsed as HTTP. Check the request line and headers.')];
  const headers = Object.entries({
    ...STATIC_SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
    connection: 'close',
  })
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n');
  socket.end(`HTTP/1.1 ${status}\r\n${headers}\r\n\r\n${payload}`);
}
