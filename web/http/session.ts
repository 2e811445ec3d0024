import { createHash, randomBytes } from 'node:crypto';

/**
 * The browser session that owns the batches it started: a random id in an HttpOnly cookie, set by
 * POST /api/batches when the request has none. Only its hash is stored, on the batch row; cancel
 * compares hashes. Scripts keep their session by sending the cookie back.
 */
export const SESSION_COOKIE = 'fl_session';

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** The session id the request carries, if it is one we could have issued. */
export function readSession(request: Request): string | null {
  const header = request.headers.get('cookie');
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    if (SESSION_ID.test(value)) return value;
  }
  return null;
}

export function newSession(): string {
  return randomBytes(32).toString('base64url');
}

/** A cookie for the browser session: sent back on same-site requests and top-level navigations only. */
export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

export function hashSession(id: string): string {
  return createHash('sha256').update(`finish-line session:${id}`).digest('hex');
}

/** Whether the request carries the session that started a batch (its owner's hash, null for none). */
export function isOwnerSession(request: Request, ownerSession: string | null | undefined): boolean {
  const session = readSession(request);
  return session !== null && ownerSession != null && hashSession(session) === ownerSession;
}
