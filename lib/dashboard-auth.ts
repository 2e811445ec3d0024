import { tokensMatch } from './tokens';

/**
 * Whether `presented` is the operator token: always when no token is configured, otherwise only
 * that token, as `Authorization: Bearer <token>` (HTTP) or `auth: { token }` (Socket.IO handshake).
 * Either form may be passed in. Compared in constant time. Who may use the controls is decided by
 * `isOperator` (operator-auth.ts), which also knows whether the server is reachable beyond loopback.
 */
export function isDashboardAuthorized(token: string | undefined, presented: string | null | undefined): boolean {
  if (!token) return true;
  if (!presented) return false;
  return tokensMatch(token, presented.replace(/^Bearer\s+/i, ''));
}
