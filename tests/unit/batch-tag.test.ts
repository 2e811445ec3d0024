import { describe, expect, it } from 'vitest';
import { parseBatchInput } from '../../lib/batches/validate';
import { loadConfig } from '../../lib/config';

// Routing by tag: a batch's `tag` and a worker's `WORKER_TAGS` follow one rule,
// ^[a-z0-9][a-z0-9-]{0,31}$ (CONTRACT.md "Routing by tag").

describe('a batch’s tag', () => {
  it('is taken as sent, and absent when not sent (the default is the database’s: "default")', () => {
    expect(parseBatchInput({ rows: 2, cols: 2, tag: 'gpu' }, 100)).toMatchObject({ tag: 'gpu' });
    expect(parseBatchInput({ rows: 2, cols: 2, tag: '0-a-' + 'b'.repeat(28) }, 100).tag).toHaveLength(32);
    expect(parseBatchInput({ rows: 2, cols: 2 }, 100)).not.toHaveProperty('tag');
  });

  it.each([['GPU'], ['-gpu'], [''], ['a'.repeat(33)], ['gpu tag'], ['gpü'], [7], [null], [['gpu']]])(
    'refuses %j with invalid_input',
    (tag) => {
      expect(() => parseBatchInput({ rows: 2, cols: 2, tag }, 100)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    },
  );
});

describe('WORKER_TAGS', () => {
  it('is `default` unless set, and a comma-separated list when set', () => {
    expect(loadConfig({}).workerTags).toEqual(['default']);
    expect(loadConfig({ WORKER_TAGS: ' gpu, default ,gpu' }).workerTags).toEqual(['gpu', 'default']);
  });

  it('refuses a tag that breaks the rule, naming the variable', () => {
    expect(() => loadConfig({ WORKER_TAGS: 'gpu,Big' })).toThrow(/WORKER_TAGS/);
    expect(() => loadConfig({ WORKER_TAGS: 'gpu,,cpu' })).toThrow(/WORKER_TAGS/);
  });
});
