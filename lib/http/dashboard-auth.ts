import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether a request may use the operator surfaces: always when no token is configured (the local
 * default), otherwise only with that token, presented as `Authorization: Bearer <token>` (HTTP) or
 * `auth: { token }` (Socket.IO handshake). Either form may be passed in. Compared in constant time.
 */
export function isDashboardAuthorized(token: string | undefined, presented: string | null | undefined): boolean {
  if (!token) return true;
  if (!presented) return false;
  const given = presented.replace(/^Bearer\s+/i, '');
  // Hashing first gives equal lengths, so the comparison's time says nothing about the token.
  return timingSafeEqual(digest(given), digest(token));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
