import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether a request may use the dashboard and its controls: always when no token is configured
 * (the local default), otherwise only with that token. The comparison takes the same time however
 * much of a wrong token matches (both sides are hashed first, so their lengths never differ).
 */
export function isDashboardAuthorized(token: string | undefined, presented: string | null | undefined): boolean {
  if (!token) return true;
  if (typeof presented !== 'string' || presented === '') return false;
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(token), digest(presented));
}
