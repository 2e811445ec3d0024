import { describe, expect, it } from 'vitest';
import type { Logger } from '../../lib/log';
import { isLockRace, reportBossError, retryLockRace } from '../../lib/queue/boss';

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const log: Logger = {
    debug: (msg) => void lines.push({ level: 'debug', msg }),
    info: (msg) => void lines.push({ level: 'info', msg }),
    warn: (msg) => void lines.push({ level: 'warn', msg }),
    error: (msg) => void lines.push({ level: 'error', msg }),
    child: () => log,
  };
  return { log, lines };
}

describe('pg-boss background errors', () => {
  it('says a deadlock its retention pass lost to a queue drop at info, and anything else as a warning', () => {
    const { log, lines } = recordingLog();
    reportBossError(log, Object.assign(new Error('deadlock detected'), { code: '40P01' }));
    reportBossError(log, Object.assign(new Error('connection terminated'), { code: '57P01' }));
    reportBossError(log, new Error('no code'));
    reportBossError(log, null);
    expect(lines.map((l) => l.level)).toEqual(['info', 'warn', 'warn', 'warn']);
    expect(lines[0]!.msg).toMatch(/deadlock/);
  });
});

describe("deleting a batch's queue", () => {
  it('tries again when its drop is busy or lost a deadlock, and gives up on anything else', () => {
    const withCode = (code: string) => Object.assign(new Error(code), { code });
    expect(isLockRace(withCode('55P03'))).toBe(true);
    expect(isLockRace(withCode('40P01'))).toBe(true);
    expect(isLockRace(Object.assign(new Error('wrapped'), { cause: withCode('40P01') }))).toBe(true);
    expect(isLockRace(withCode('42P01'))).toBe(false);
    expect(isLockRace(new Error('no code'))).toBe(false);
    expect(isLockRace(null)).toBe(false);
  });
});

describe('retryLockRace', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it('tries again while the work loses a lock race, and returns what it returns', async () => {
    const codes = ['40P01', '55P03'];
    let calls = 0;
    const waits: number[] = [];
    const result = await retryLockRace(
      5,
      (tried) => (waits.push(tried), 0),
      async () => {
        calls++;
        const code = codes.shift();
        if (code) throw withCode(code);
        return 'made';
      },
    );
    expect(result).toBe('made');
    expect(calls).toBe(3);
    expect(waits).toEqual([1, 2]);
  });

  it('gives up after its tries, and at once on any other error', async () => {
    for (const [code, calls] of [
      ['40P01', 3],
      ['42P01', 1],
    ] as const) {
      let made = 0;
      const failing = async () => {
        made++;
        throw withCode(code);
      };
      await expect(retryLockRace(3, () => 0, failing)).rejects.toMatchObject({ code });
      expect(made).toBe(calls);
    }
  });
});
