import { describe, expect, it } from 'vitest';
import { parseBatchInput, START_MAX_SECONDS } from '../../lib/batches/validate';
import { PublicError } from '../../lib/errors';

// startAt / startInSeconds on POST /api/batches: every accepted and refused form.

const NOW = Date.parse('2026-12-03T12:00:00.000Z');
const parse = (extra: Record<string, unknown>) => parseBatchInput({ rows: 2, cols: 3, ...extra }, 1_000_000, undefined, NOW);

function refusal(extra: Record<string, unknown>): { code: string; message: string } | 'accepted' {
  try {
    parse(extra);
  } catch (err) {
    if (err instanceof PublicError) return { code: err.code, message: err.message };
    throw err;
  }
  return 'accepted';
}

describe('starting later', () => {
  it('a batch without startAt or startInSeconds is exactly as before (v1)', () => {
    expect(parse({})).toEqual({ rows: 2, cols: 3 });
  });

  it('startInSeconds: integers 0..604800, kept as seconds from now', () => {
    expect(parse({ startInSeconds: 0 }).startInSeconds).toBe(0);
    expect(parse({ startInSeconds: 42 }).startInSeconds).toBe(42);
    expect(parse({ startInSeconds: START_MAX_SECONDS }).startInSeconds).toBe(604_800);
  });

  it('startAt: an ISO time with its offset, turned into seconds from now', () => {
    expect(parse({ startAt: '2026-12-03T12:00:42Z' }).startInSeconds).toBe(42);
    expect(parse({ startAt: '2026-12-03T12:00:01.500Z' }).startInSeconds).toBe(1.5);
    expect(parse({ startAt: '2026-12-03T13:01:00+01:00' }).startInSeconds).toBe(60);
    expect(parse({ startAt: '2026-12-10T12:00:00Z' }).startInSeconds).toBe(START_MAX_SECONDS);
  });

  it('a startAt now or already past starts at once (clocks disagree by seconds), never as an error', () => {
    expect(parse({ startAt: '2026-12-03T12:00:00Z' }).startInSeconds).toBe(0);
    expect(parse({ startAt: '2026-12-03T11:59:58Z' }).startInSeconds).toBe(0);
    expect(parse({ startAt: '2020-01-01T00:00:00Z' }).startInSeconds).toBe(0);
  });

  it.each([
    ['both', { startAt: '2026-12-03T12:01:00Z', startInSeconds: 60 }, /not both/],
    ['startInSeconds negative', { startInSeconds: -1 }, /startInSeconds/],
    ['startInSeconds above 7 days', { startInSeconds: START_MAX_SECONDS + 1 }, /startInSeconds/],
    ['startInSeconds a fraction', { startInSeconds: 1.5 }, /startInSeconds/],
    ['startInSeconds NaN', { startInSeconds: Number.NaN }, /startInSeconds/],
    ['startInSeconds Infinity', { startInSeconds: Number.POSITIVE_INFINITY }, /startInSeconds/],
    ['startInSeconds a string', { startInSeconds: '60' }, /startInSeconds/],
    ['startInSeconds null', { startInSeconds: null }, /startInSeconds/],
    ['startInSeconds a boolean', { startInSeconds: true }, /startInSeconds/],
    ['startAt a number', { startAt: NOW + 60_000 }, /startAt/],
    ['startAt null', { startAt: null }, /startAt/],
    ['startAt an object', { startAt: { at: '2026-12-03T12:01:00Z' } }, /startAt/],
    ['startAt empty', { startAt: '' }, /startAt/],
    ['startAt unparseable', { startAt: 'tomorrow at noon' }, /startAt/],
    ['startAt a date without a time', { startAt: '2026-12-04' }, /startAt/],
    ['startAt without an offset', { startAt: '2026-12-03T12:01:00' }, /startAt/],
    ['startAt an impossible date', { startAt: '2026-13-45T12:01:00Z' }, /startAt/],
    ['startAt an impossible time', { startAt: '2026-12-03T25:61:00Z' }, /startAt/],
    ['startAt more than 7 days ahead', { startAt: '2026-12-10T12:00:01Z' }, /7 days/],
  ])('refuses %s with 400 invalid_input', (_name, extra, message) => {
    const answer = refusal(extra);
    expect(answer).not.toBe('accepted');
    if (answer === 'accepted') return;
    expect(answer.code).toBe('invalid_input');
    expect(answer.message).toMatch(message);
  });

  it('the body is still checked first: a bad rows is refused whatever the start', () => {
    const answer = refusal({ rows: 0, startInSeconds: 5 });
    expect(answer !== 'accepted' && answer.message).toMatch(/rows/);
  });

  it('schedule is never taken from a request body', () => {
    const answer = refusal({ schedule: 'nightly' });
    expect(answer !== 'accepted' && answer.code).toBe('invalid_input');
  });
});
