import { connect } from 'node:net';
import type pg from 'pg';
import { CELL_QUEUE_PREFIX } from '../../lib/queue/cell-job';

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: any;
}

/** One request with fetch, its body read and parsed when it is JSON. */
export async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** POST /api/batches with a JSON body (or exactly the given bytes) and extra headers. */
export function postBatch(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const raw: BodyInit = typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body);
  return send(`${base}/api/batches`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw });
}

/** The `name=value` pair of the session cookie a response sets, ready for a Cookie header. */
export function sessionCookieOf(answer: { headers: Headers }): string | null {
  const setCookie = answer.headers.get('set-cookie');
  const match = setCookie ? /(fl_session=[^;]+)/.exec(setCookie) : null;
  return match ? match[1] : null;
}

/**
 * What a request could have created: batch rows, and cell jobs of no batch. Jobs of existing batches
 * are not counted: they go away on their own once their batch ends and its queue is deleted, so a
 * count of them would move between two reads while nothing was created.
 */
export async function createdCounts(pool: pg.Pool): Promise<{ batches: number; jobs: number }> {
  const { rows } = await pool.query<{ batches: number; jobs: number }>(
    `select (select count(*)::int from batches) as batches,
            (select count(*)::int from pgboss.job j
              where starts_with(j.name, $1) and not exists (select 1 from batches b where $1 || b.id::text = j.name)) as jobs`,
    [CELL_QUEUE_PREFIX],
  );
  return rows[0];
}

/** Bytes straight onto a TCP connection, for requests fetch refuses to send; resolves with the raw answer. */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, timeoutMs);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (answer) resolve(answer);
      else reject(err);
    });
    socket.write(request);
  });
}

/** The status code and the JSON body of a raw HTTP/1.1 answer. */
export function parseRaw(answer: string): { status: number; body: any; head: string } {
  const [head, ...rest] = answer.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  let text = rest.join('\r\n\r\n');
  if (/^transfer-encoding: chunked$/im.test(head)) text = dechunk(text);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, body, head };
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** Traces of internals that must never reach a client. */
export const LEAK =
  /\bat [\w.<>]+ \(|node:internal|\/work\/|\.ts:\d+|select\s|insert\s|update\s|delete\s+from|syntax error|violates|pg_|relation "|ECONN|TypeError|ReferenceError/i;
