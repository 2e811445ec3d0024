import { PublicError, toPublicError } from '../../lib/errors';
import type { Logger } from '../../lib/log';

export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

/** Turns any throwable into the contract's error shape; unexpected ones are logged, never shown. */
export function errorResponse(err: unknown, log: Logger, context: Record<string, unknown> = {}): Response {
  const publicError = toPublicError(err);
  if (publicError.status >= 500) log.error('request failed', { ...context, err: publicError.cause ?? err });
  return json(publicError.status, publicError.toBody(), publicError.headers);
}

/**
 * Reads a JSON body with a size limit, refusing early on a declared length and again while
 * streaming, so an oversized body never sits in memory.
 */
export async function readJsonBody(request: Request, limitBytes: number): Promise<unknown> {
  if (!isJsonUtf8(request.headers.get('content-type'))) {
    throw new PublicError('unsupported_media_type', 'Send the body as UTF-8 JSON with "Content-Type: application/json".');
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limitBytes) throw tooLarge(limitBytes);

  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limitBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limitBytes);
      }
      chunks.push(value);
    }
  }
  let text: string;
  try {
    text = UTF8.decode(Buffer.concat(chunks));
  } catch (err) {
    throw new PublicError('invalid_input', 'The body is not valid UTF-8. Send JSON text such as {"rows": 20, "cols": 20}.', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PublicError('invalid_input', 'The body is not valid JSON. Send e.g. {"rows": 20, "cols": 20}.', { cause: err });
  }
}

// Fatal: bytes that are not UTF-8 are refused rather than silently replaced.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** `application/json`, with no charset or a UTF-8 one (JSON on the wire is UTF-8). */
function isJsonUtf8(header: string | null): boolean {
  if (header === null) return false;
  const [type, ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((param) => {
    const [name, value] = param.split('=').map((x) => x?.trim());
    return name !== 'charset' || value === 'utf-8' || value === '"utf-8"' || value === 'utf8';
  });
}

function tooLarge(limitBytes: number) {
  return new PublicError('payload_too_large', `The body is larger than ${limitBytes} bytes; a batch request needs only a few dozen.`);
}
