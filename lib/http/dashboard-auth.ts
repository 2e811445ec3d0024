import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether a request may use the dashboard's powers: always when no token is configured (the local
 * default), else only when it presents that token. Both sides are hashed first, so the comparison
 * takes the same time whatever the lengths and contents.
 */
export function isDashboardAuthorized(token: string | undefined, presented: string | null | undefined): boolean {
  if (token === undefined) return true;
  if (typeof presented !== 'string') return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(token), digest(presented));
}
