import type { ErrorBody } from './types';

/** Stable error codes of the public contract; clients only ever see these. */
export type ErrorCode =
  | 'invalid_input'
  | 'too_many_cells'
  | 'too_many_pixels'
  | 'not_ready'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'not_found'
  | 'already_finished'
  | 'already_exists'
  | 'lease_expired'
  | 'internal_error'
  | 'unavailable'
  | 'method_not_allowed'
  | 'forbidden_origin'
  | 'forbidden_host'
  | 'forbidden'
  | 'rate_limited'
  | 'too_many_running'
  | 'busy'
  | 'bad_request'
  | 'headers_too_large'
  | 'request_timeout'
  | 'not_implemented';

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  invalid_input: 400,
  too_many_cells: 400,
  too_many_pixels: 400,
  not_ready: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  not_found: 404,
  already_finished: 409,
  already_exists: 409,
  lease_expired: 409,
  internal_error: 500,
  unavailable: 503,
  method_not_allowed: 405,
  forbidden_origin: 403,
  forbidden_host: 403,
  forbidden: 403,
  rate_limited: 429,
  too_many_running: 429,
  busy: 503,
  bad_request: 400,
  headers_too_large: 431,
  request_timeout: 408,
  not_implemented: 501,
};

/** An error a client may see: a code from the contract and a sentence a person can act on. */
export class PublicError extends Error {
  override name = 'PublicError';
  readonly status: number;
  /** Response headers that go with this error: `Retry-After` on 429, `Allow` on 405. */
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.status = STATUS_BY_CODE[code];
    this.headers = options?.headers ?? {};
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Configuration that cannot work; lists every problem at once so one restart fixes them all. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Anything thrown that is not a PublicError becomes a generic 500 that leaks no detail, except that
 * PostgreSQL being away or busy for a moment (restarting, refusing connections, a lock or pool wait
 * that ran out) is `503 unavailable` with `Retry-After`: the request changed nothing and may be sent
 * again.
 */
export function toPublicError(err: unknown): PublicError {
  if (err instanceof PublicError) return err;
  if (isDatabaseUnavailable(err)) {
    return new PublicError('unavailable', 'The database is not available for a moment (restarting or busy). Try again in a few seconds.', {
      cause: err,
      headers: { 'retry-after': '2' },
    });
  }
  return new PublicError('internal_error', 'Something went wrong on the server. Try again; if it persists, check the server log.', {
    cause: err,
  });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** SQLSTATEs of a server going away or refusing for now, and of lock and pool waits that ran out. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '55P03', '25P03']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** Whether an error says PostgreSQL could not be reached or answered "not now", rather than "wrong". */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') || UNAVAILABLE_NODE_CODES.has(code)))
      return true;
    // node-postgres's own words for a connection lost mid-query and an empty pool that timed out.
    if (/^Connection terminated|timeout exceeded when trying to connect/.test(e.message)) return true;
  }
  return false;
}
