import type { LogLevel } from './config';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

const stdout = (line: string) => void process.stdout.write(line);

/**
 * One JSON line per event on stdout, so any log shipper can read it; quiet below LOG_LEVEL.
 * Errors keep their stack and their whole `cause` chain (logs only: responses carry a code and a
 * sentence, see lib/errors.ts). Secrets are redacted from every value written: passwords in
 * connection URLs, Bearer and Basic credentials, and any field named like a token or password.
 *
 * Our own rather than pino: the same JSON lines and levels, with redaction of free text (pino's
 * `redact` only knows field paths) and no worker-thread transport to stop at exit.
 */
export function createLogger(base: Fields = {}, level: LogLevel = 'info', write: (line: string) => void = stdout): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Fields) => {
    if (RANK[lvl] < RANK[level]) return;
    write(`${serialize({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields })}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...base, ...fields }, level, write),
  };
}

const REDACTED = '[REDACTED]';

/** Field names whose string values are secrets whatever they hold: `dashboardToken`, `WORKER_TOKEN`, `authorization`… */
const SECRET_KEY = /(token|secret|passw(or)?d|authorization|cookie|api[-_]?key)$/i;

const SECRET_TEXT: [RegExp, string][] = [
  // scheme://user:password@host — connection URLs (DATABASE_URL, OTLP endpoints with credentials).
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):([^\s/?#@]+)@/gi, `$1:${REDACTED}@`],
  // Authorization schemes, in a header dump or a sentence.
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`],
  // libpq key=value connection strings.
  [/\b(password)\s*=\s*('[^']*'|[^\s]+)/gi, `$1=${REDACTED}`],
];

/** `text` with the secrets it may carry (URL passwords, Bearer/Basic credentials, password=…) replaced. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/** How deep a cause chain (or nested fields) is followed before it is cut. */
const MAX_DEPTH = 8;

function serialize(line: Fields): string {
  try {
    return JSON.stringify(toLoggable(line, new WeakSet(), 0));
  } catch (err) {
    // A logger never throws at its caller: an unserialisable field costs the fields, not the event.
    return JSON.stringify({ time: line.time, level: line.level, msg: redactText(String(line.msg)), logError: String(err) });
  }
}

/** A plain JSON value for `value`: errors spelled out, secrets redacted, cycles and depth cut. */
function toLoggable(value: unknown, seen: WeakSet<object>, depth: number, key = ''): unknown {
  // A secret's field hides whatever it holds but a flag or a count ("is a token set": true).
  if (
    SECRET_KEY.test(key) &&
    value !== '' &&
    value !== null &&
    value !== undefined &&
    typeof value !== 'boolean' &&
    typeof value !== 'number'
  )
    return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  if (seen.has(value)) return '[cycle]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return errorFields(value, seen, depth);
    if (Array.isArray(value)) return value.map((item) => toLoggable(item, seen, depth + 1));
    if (value instanceof Date) return value.toISOString();
    if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
    if (value instanceof Map) return toLoggable(Object.fromEntries(value), seen, depth);
    const out: Fields = {};
    for (const [k, v] of Object.entries(value)) out[k] = toLoggable(v, seen, depth + 1, k);
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * name, message, the stack (frames tell where), the error's own data (a pg error's code, detail,
 * constraint…) and its cause, itself spelled out the same way; AggregateError's errors too.
 */
function errorFields(err: Error, seen: WeakSet<object>, depth: number): Fields {
  const out: Fields = { name: err.name, message: redactText(err.message) };
  for (const [k, v] of Object.entries(err)) {
    if (k !== 'cause' && k !== 'errors' && v !== undefined) out[k] = toLoggable(v, seen, depth + 1, k);
  }
  if (err.stack) out.stack = redactText(err.stack);
  if (err instanceof AggregateError) out.errors = toLoggable(err.errors, seen, depth + 1);
  if (err.cause !== undefined) out.cause = toLoggable(err.cause, seen, depth + 1);
  return out;
}
