import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../../lib/log';

// What an operator reads after a 500 or a crash: one JSON line per event, with the error's stack
// and its cause chain, and no secret that could leak from the log into a ticket or a shipper.

function capture(level: Parameters<typeof createLogger>[1] = 'debug') {
  const lines: string[] = [];
  const log = createLogger({ proc: 'test' }, level, (line) => lines.push(line));
  // Log lines are JSON of any shape; the assertions below say what they expect.
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, any>);
  return { log, lines, parsed };
}

describe('logger', () => {
  it('writes one JSON line per event, quiet below its level', () => {
    const { log, lines, parsed } = capture('info');
    log.debug('not shown');
    log.info('shown', { n: 1 });
    log.child({ part: 'x' }).warn('child', { m: 2 });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    expect(parsed()[0]).toMatchObject({ level: 'info', msg: 'shown', proc: 'test', n: 1 });
    expect(parsed()[1]).toMatchObject({ level: 'warn', msg: 'child', proc: 'test', part: 'x', m: 2 });
  });

  it('keeps an error’s name, message, stack and whole cause chain', () => {
    const { log, parsed } = capture();
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const middle = new Error('could not reach the database', { cause: root });
    class StartError extends Error {
      override name = 'StartError';
    }
    log.error('web server failed to start', { err: new StartError('start failed', { cause: middle }) });
    const { err } = parsed()[0];
    expect(err.name).toBe('StartError');
    expect(err.message).toBe('start failed');
    expect(err.stack).toContain('log.test.ts');
    expect(err.cause.message).toBe('could not reach the database');
    expect(err.cause.stack).toContain('log.test.ts');
    expect(err.cause.cause).toMatchObject({ name: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:5432', code: 'ECONNREFUSED' });
    expect(err.cause.cause.stack).toContain('log.test.ts');
  });

  it('logs a non-Error cause, an AggregateError and a cycle without throwing', () => {
    const { log, parsed } = capture();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const looped = new Error('loop');
    (looped as { cause?: unknown }).cause = looped;
    log.error('odd things', {
      plain: new Error('plain', { cause: 'just a string' }),
      many: new AggregateError([new Error('one'), new Error('two')], 'both failed'),
      looped,
      cyclic,
      big: 10n,
    });
    const line = parsed()[0];
    expect(line.plain.cause).toBe('just a string');
    expect(line.many.errors.map((e: { message: string }) => e.message)).toEqual(['one', 'two']);
    expect(line.looped.cause).toBe('[cycle]');
    expect(line.cyclic.self).toBe('[cycle]');
    expect(line.big).toBe('10');
  });

  it('redacts the password of a connection URL wherever it appears', () => {
    const { log, lines } = capture();
    const url = 'postgres://finishline:s3cr%40t-Pa55@127.0.0.1:54329/finishline';
    log.info(`connecting to ${url}`, { databaseUrl: url, env: { DATABASE_URL: url } });
    log.error('pool failed', { err: new Error(`cannot connect to ${url}`, { cause: new Error(`again ${url}`) }) });
    const text = lines.join('');
    expect(text).not.toContain('s3cr');
    expect(text).not.toContain('Pa55');
    expect(text).toContain('postgres://finishline:[REDACTED]@127.0.0.1:54329/finishline');
    expect(redactText('postgresql://u:p@h/db?sslmode=require')).toBe('postgresql://u:[REDACTED]@h/db?sslmode=require');
    expect(redactText('host=h user=u password=hunter2 dbname=d')).toBe('host=h user=u password=[REDACTED] dbname=d');
  });

  it('redacts Bearer tokens, Authorization headers and fields named like secrets', () => {
    const { log, lines, parsed } = capture();
    log.warn('unauthorised request Authorization: Bearer abc.DEF-123_xyz', {
      headers: { authorization: 'Bearer abc.DEF-123_xyz', 'x-request-id': 'r-1' },
      dashboardToken: 'tok-dashboard-1',
      WORKER_TOKEN: 'tok-worker-1',
      password: 'pw-1',
      'set-cookie': ['fl_session=cookie-1; HttpOnly'],
      tokens: 3,
      dashboardTokenSet: true,
      workerToken: true,
    });
    const text = lines.join('');
    for (const secret of ['abc.DEF-123_xyz', 'tok-dashboard-1', 'tok-worker-1', 'pw-1', 'cookie-1']) expect(text).not.toContain(secret);
    const line = parsed()[0];
    expect(line.msg).toBe('unauthorised request Authorization: Bearer [REDACTED]');
    expect(line.headers).toEqual({ authorization: '[REDACTED]', 'x-request-id': 'r-1' });
    expect(line.tokens).toBe(3);
    expect(line.workerToken).toBe(true);
    expect(redactText('curl -H "authorization: Basic dXNlcjpwYXNz" x')).toBe('curl -H "authorization: Basic [REDACTED]" x');
  });
});
