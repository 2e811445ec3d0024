import { UNKNOWN_WORKER } from './worker-tally';

/**
 * Worker colours for "colour by worker": far apart from one another, and from the waiting grey and
 * the failed slate the grid already uses, so a glance tells workers, gaps and failures apart.
 */
const PALETTE = [0x4e79a7, 0xf28e2b, 0x59a14f, 0xe15759, 0x76b7b2, 0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0x17becf];
/** A finished cell whose worker is not known: mid grey, between the waiting and failed greys. */
const UNKNOWN_RGB = 0x9ca3af;
const GOLDEN_ANGLE = 137.508;

/** The colour (0xRRGGBB) of a worker's slot; past the palette, hues walk the golden angle. */
export function workerRgb(slot: number): number {
  if (slot === UNKNOWN_WORKER) return UNKNOWN_RGB;
  if (slot <= PALETTE.length) return PALETTE[slot - 1];
  return hslToRgb(((slot - PALETTE.length) * GOLDEN_ANGLE) % 360, 0.6, 0.45);
}

/** `#RRGGBB`, upper case, as the contract writes colours. */
export function hexOf(rgb: number): string {
  return `#${rgb.toString(16).toUpperCase().padStart(6, '0')}`;
}

function hslToRgb(h: number, s: number, l: number): number {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))));
  return (f(0) << 16) | (f(8) << 8) | f(4);
}
