import { describe, expect, it } from 'vitest';
import { isDashboardAuthorized } from '../../lib/dashboard-auth';
import { renderPrometheus } from '../../lib/metrics/prometheus';
import { batchContext, parseTraceParent } from '../../lib/telemetry/trace';
import { trace } from '@opentelemetry/api';

describe('renderPrometheus', () => {
  it('writes HELP, TYPE and one line per sample, escaping label values', () => {
    const text = renderPrometheus([
      { name: 'a_total', help: 'Things\ncounted.', type: 'counter', samples: [{ value: 3 }] },
      {
        name: 'b',
        help: 'By label.',
        type: 'gauge',
        samples: [
          { labels: { q: 'cell', s: 'say "hi"\\' }, value: 1.5 },
          { labels: { q: 'x' }, value: Number.NaN },
        ],
      },
    ]);
    expect(text).toBe(
      [
        '# HELP a_total Things\\ncounted.',
        '# TYPE a_total counter',
        'a_total 3',
        '# HELP b By label.',
        '# TYPE b gauge',
        'b{q="cell",s="say \\"hi\\"\\\\"} 1.5',
        'b{q="x"} NaN',
        '',
      ].join('\n'),
    );
  });
});

describe('isDashboardAuthorized', () => {
  it('lets everyone in when no token is configured', () => {
    expect(isDashboardAuthorized(undefined, null)).toBe(true);
    expect(isDashboardAuthorized(undefined, 'Bearer anything')).toBe(true);
  });

  it('wants the token, bare or as a Bearer header, when one is configured', () => {
    expect(isDashboardAuthorized('s3cret', 'Bearer s3cret')).toBe(true);
    expect(isDashboardAuthorized('s3cret', 'bearer s3cret')).toBe(true);
    expect(isDashboardAuthorized('s3cret', 's3cret')).toBe(true);
    for (const bad of [null, undefined, '', 'Bearer ', 'Bearer s3cre', 'Bearer s3cret2', 'Basic s3cret', 'x'.repeat(10_000)]) {
      expect(isDashboardAuthorized('s3cret', bad)).toBe(false);
    }
  });
});

describe('traceparent', () => {
  it('reads a version-00 traceparent back into a remote span context', () => {
    const sc = parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect(sc).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
    expect(trace.getSpanContext(batchContext('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'))).toEqual(sc);
  });

  it('ignores anything else, and starts a batch without one at the root', () => {
    for (const bad of [
      null,
      undefined,
      '',
      'garbage',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    ]) {
      expect(parseTraceParent(bad)).toBeNull();
    }
    expect(trace.getSpanContext(batchContext(null))).toBeUndefined();
  });
});
