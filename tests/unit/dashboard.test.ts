import { describe, expect, it } from 'vitest';
import { formatAgo, formatDuration, formatRate } from '../../app/client/format';
import { isDashboardAuthorized } from '../../lib/dashboard-auth';
import { createLogger } from '../../lib/log';
import { IntakeFollower } from '../../workers/intake';
import { ThroughputMeter } from '../../workers/throughput';

describe('isDashboardAuthorized', () => {
  it('is open when no token is configured', () => {
    expect(isDashboardAuthorized(undefined, undefined)).toBe(true);
    expect(isDashboardAuthorized(undefined, 'anything')).toBe(true);
  });

  it('wants exactly the configured token', () => {
    expect(isDashboardAuthorized('s3cret', 's3cret')).toBe(true);
    for (const presented of [undefined, null, '', 's3cre', 's3cret ', 'S3CRET', 's3cret-and-more']) {
      expect(isDashboardAuthorized('s3cret', presented)).toBe(false);
    }
  });
});

describe('ThroughputMeter', () => {
  it('sums cells per second of the clock and starts again after take()', () => {
    const meter = new ThroughputMeter();
    meter.add(10, 1_000_100);
    meter.add(5, 1_000_900);
    meter.add(0, 1_001_000);
    meter.add(7, 1_002_500);
    expect(meter.take()).toEqual([
      { second: 1000, cells: 15 },
      { second: 1002, cells: 7 },
    ]);
    expect(meter.take()).toEqual([]);
  });

  it('keeps samples whose write failed, unless too old to chart', () => {
    const meter = new ThroughputMeter();
    const now = 10_000_000;
    meter.giveBack(
      [
        { second: now / 1000 - 600, cells: 3 },
        { second: now / 1000 - 2, cells: 4 },
      ],
      now,
    );
    meter.add(1, now - 2000);
    expect(meter.take()).toEqual([{ second: now / 1000 - 2, cells: 5 }]);
  });
});

describe('IntakeFollower', () => {
  function fakeWorker(initiallyPaused: boolean) {
    const calls: string[] = [];
    const state = { paused: initiallyPaused, recordFails: false };
    const follower = new IntakeFollower(
      {
        readPaused: async () => state.paused,
        readDesired: async () => 'run',
        drained: () => undefined,
        startWork: async () => void calls.push('start'),
        stopWork: async () => void calls.push('stop'),
        recordPaused: async (paused) => {
          if (state.recordFails) throw new Error('database gone');
          calls.push(paused ? 'record paused' : 'record working');
        },
      },
      createLogger({}, 'silent'),
    );
    return { calls, state, follower };
  }

  it('starts work when intake is on, stops it when paused, and starts again on resume, recording each', async () => {
    const { calls, state, follower } = fakeWorker(false);
    await follower.sync();
    await follower.sync();
    state.paused = true;
    await follower.sync();
    await follower.sync();
    state.paused = false;
    await follower.sync();
    expect(calls).toEqual(['start', 'record working', 'stop', 'record paused', 'start', 'record working']);
  });

  it('does not start at all when intake is paused at boot', async () => {
    const { calls, follower } = fakeWorker(true);
    await follower.sync();
    expect(calls).toEqual(['record paused']);
  });

  it('records again on the next sync when recording failed', async () => {
    const { calls, state, follower } = fakeWorker(false);
    state.recordFails = true;
    await expect(follower.sync()).rejects.toThrow('database gone');
    state.recordFails = false;
    await follower.sync();
    expect(calls).toEqual(['start', 'record working']);
  });
});

describe('dashboard formatting', () => {
  it('formats durations, ages and rates for a glance', () => {
    expect(formatDuration(420)).toBe('0.42 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(7_800_000)).toBe('2 h 10 min');
    expect(formatAgo('2026-01-01T00:00:00.000Z', '2026-01-01T00:00:02.900Z')).toBe('2 s ago');
    expect(formatRate(0)).toBe('0');
    expect(formatRate(2.345)).toBe('2.3');
    expect(formatRate(12_345.6)).toBe('12,346');
  });
});
