import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether `presented` is the operator token: always when no token is configured, otherwise only
 * that token, as `Authorization: Bearer <token>` (HTTP) or `auth: { token }` (Socket.IO handshake).
 * Either form may be passed in. Compared in constant time. Who may use the controls is decided by
 * `isOperator` (operator-auth.ts), which also knows whether the server is reachable beyond loopback.
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
