import { randomInt } from 'node:crypto';

export const COLOR_PATTERN = /^#[0-9A-F]{6}$/;

/** A uniformly random `#RRGGBB` colour, upper-case as the contract requires. */
export function randomColor(): string {
  return `#${randomInt(0, 0x1000000).toString(16).toUpperCase().padStart(6, '0')}`;
}
