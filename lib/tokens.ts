import { createHash, timingSafeEqual } from 'node:crypto';

/** The SHA-256 of a token, hex: what is stored or compared in its place, never the token itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Whether a presented token is the expected one, in constant time: hashing both first gives equal
 * lengths, so the comparison's time says nothing about the token.
 */
export function tokensMatch(expected: string, presented: string): boolean {
  return timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(expected).digest());
}
