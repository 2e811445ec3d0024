import { PgBoss } from 'pg-boss';
import { parseIdempotencyKey } from '../../lib/batches/validate';
import { describe, expect, it } from 'vitest';
import { parseScheduleInput, parseScheduleName } from '../../lib/batches/schedule-input';
import { nextRunOf, tickKey, tickOf } from '../../lib/batches/schedules';
import { PublicError } from '../../lib/errors';

// The body of POST /api/schedules, and the cron arithmetic of ticks, on pg-boss's own parser (an
// instance never started: previewSchedule is pure arithmetic once given a reference time).

const boss = new PgBoss({ connectionString: 'postgres://127.0.0.1:1/none' });
const FROM = new Date('2026-12-03T12:00:30.000Z');
const nextRun = (cron: string, tz: string) => nextRunOf(boss, cron, tz, FROM);
const GOOD = { name: 'every-5-min', cron: '*/5 * * * *', timezone: 'UTC', batch: { rows: 20, cols: 20 } };
const parse = (body: unknown) => parseScheduleInput(body, { maxCells: 1_000_000 }, nextRun);

function refusal(body: unknown): string {
  try {
    parse(body);
  } catch (err) {
    if (err instanceof PublicError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'accepted';
}

describe('parseScheduleInput', () => {
  it('accepts the contract example, with its next run read in its zone', () => {
    const input = parse(GOOD);
    expect(input).toMatchObject({ name: 'every-5-min', cron: '*/5 * * * *', timezone: 'UTC', batch: { rows: 20, cols: 20 } });
    expect(input.nextRunAt.toISOString()).toBe('2026-12-03T12:05:00.000Z');
  });

  it("reads the cron in the schedule's time zone", () => {
    // 02:30 in Paris is 01:30 UTC in December; in New York it is 07:30 UTC.
    expect(parse({ ...GOOD, cron: '30 2 * * *', timezone: 'Europe/Paris' }).nextRunAt.toISOString()).toBe('2026-12-04T01:30:00.000Z');
    expect(parse({ ...GOOD, cron: '30 2 * * *', timezone: 'America/New_York' }).nextRunAt.toISOString()).toBe('2026-12-04T07:30:00.000Z');
  });

  it('keeps the batch as a POST /api/batches body would be read, pictures included', () => {
    const input = parse({ ...GOOD, batch: { rows: 4, cols: 4, kind: 'mandelbrot', priority: 7 } });
    expect(input.batch).toMatchObject({ rows: 4, cols: 4, kind: 'mandelbrot', priority: 7, tileSize: 32, maxIterations: 500 });
  });

  it('normalises the spacing of the cron', () => {
    expect(parse({ ...GOOD, cron: '  */5   *  * * *  ' }).cron).toBe('*/5 * * * *');
  });

  it.each([
    ['a body that is not an object', [GOOD]],
    ['null', null],
    ['an unknown field', { ...GOOD, every: 'day' }],
    ['no name', { ...GOOD, name: undefined }],
    ['an empty name', { ...GOOD, name: '' }],
    ['a name with capitals', { ...GOOD, name: 'Nightly' }],
    ['a name starting with a hyphen', { ...GOOD, name: '-nightly' }],
    ['a name with a space', { ...GOOD, name: 'night ly' }],
    ['a name with a slash', { ...GOOD, name: 'a/b' }],
    ['a name of 64 characters', { ...GOOD, name: 'a'.repeat(64) }],
    ['a name that is a number', { ...GOOD, name: 5 }],
    ['no cron', { ...GOOD, cron: undefined }],
    ['an empty cron', { ...GOOD, cron: '' }],
    ['a cron of four fields', { ...GOOD, cron: '* * * *' }],
    ['a cron of six fields (seconds: finer than pg-boss ticks)', { ...GOOD, cron: '*/10 * * * * *' }],
    ['a cron minute of 61', { ...GOOD, cron: '61 * * * *' }],
    ['a cron hour of 24', { ...GOOD, cron: '0 24 * * *' }],
    ['a cron of words', { ...GOOD, cron: 'at noon every day ok' }],
    ['a cron with a semicolon', { ...GOOD, cron: '*;5 * * * *' }],
    ['an RRULE', { ...GOOD, cron: 'FREQ=DAILY;BYHOUR=2' }],
    ['a cron that is a number', { ...GOOD, cron: 5 }],
    ['no time zone', { ...GOOD, timezone: undefined }],
    ['an unknown time zone', { ...GOOD, timezone: 'Mars/Olympus' }],
    ['a time zone with spaces', { ...GOOD, timezone: 'Europe/ Paris' }],
    ['a time zone that is an offset', { ...GOOD, timezone: '+01:00' }],
    ['a time zone that is a number', { ...GOOD, timezone: 1 }],
    ['no batch', { ...GOOD, batch: undefined }],
    ['a batch that is a list', { ...GOOD, batch: [20, 20] }],
    ['a batch with startInSeconds', { ...GOOD, batch: { rows: 2, cols: 2, startInSeconds: 5 } }],
    ['a batch with startAt', { ...GOOD, batch: { rows: 2, cols: 2, startAt: '2026-12-03T13:00:00Z' } }],
    ['a batch with bad rows', { ...GOOD, batch: { rows: 0, cols: 2 } }],
    ['a batch with an unknown field', { ...GOOD, batch: { rows: 2, cols: 2, colour: 'red' } }],
    ['a batch naming its schedule', { ...GOOD, batch: { rows: 2, cols: 2, schedule: 'other' } }],
  ])('refuses %s with invalid_input', (_name, body) => {
    expect(refusal(body)).toMatch(/^invalid_input: /);
  });

  it('a batch above the cell cap is too_many_cells, as on POST /api/batches', () => {
    expect(() => parseScheduleInput({ ...GOOD, batch: { rows: 1000, cols: 1000 } }, { maxCells: 100 }, nextRun)).toThrow(
      expect.objectContaining({ code: 'too_many_cells' }),
    );
  });

  it('parseScheduleName: the slug, for URLs too', () => {
    expect(parseScheduleName('every-5-min')).toBe('every-5-min');
    expect(() => parseScheduleName('..')).toThrow(PublicError);
    expect(() => parseScheduleName('a'.repeat(63))).not.toThrow();
  });
});

describe('ticks', () => {
  const everyMinute = { cron: '* * * * *', timezone: 'UTC' };

  it('a tick is the latest occurrence at or before its job was sent', () => {
    expect(tickOf(boss, everyMinute, new Date('2026-12-03T12:00:04.200Z')).toISOString()).toBe('2026-12-03T12:00:00.000Z');
    expect(tickOf(boss, everyMinute, new Date('2026-12-03T12:00:59.999Z')).toISOString()).toBe('2026-12-03T12:00:00.000Z');
    expect(tickOf(boss, everyMinute, new Date('2026-12-03T12:01:00.000Z')).toISOString()).toBe('2026-12-03T12:01:00.000Z');
    const five = { cron: '*/5 * * * *', timezone: 'UTC' };
    expect(tickOf(boss, five, new Date('2026-12-03T12:05:40.000Z')).toISOString()).toBe('2026-12-03T12:05:00.000Z');
  });

  it('the same tick sent twice, seconds apart, has the same idempotency key', () => {
    const daily = { cron: '0 9 * * *', timezone: 'Europe/Paris' };
    const a = tickOf(boss, daily, new Date('2026-12-03T08:00:03.000Z'));
    const b = tickOf(boss, daily, new Date('2026-12-03T08:00:41.000Z'));
    expect(tickKey('daily', a)).toBe('schedule daily 2026-12-03T08:00:00.000Z');
    expect(tickKey('daily', b)).toBe(tickKey('daily', a));
  });

  it('no client can send a tick’s key (it has spaces; an Idempotency-Key may not)', () => {
    expect(() => parseIdempotencyKey(tickKey('daily', new Date('2026-12-03T08:00:00.000Z')))).toThrow(/visible ASCII/);
  });
});
