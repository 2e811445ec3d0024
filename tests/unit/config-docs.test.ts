import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Every environment variable lib/config.ts reads: `env.NAME`, or a parser called with 'NAME'. */
function variablesReadByConfig(): string[] {
  const source = read('lib/config.ts');
  const names = new Set<string>();
  for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]);
  for (const m of source.matchAll(/\(\s*'([A-Z][A-Z0-9_]+)'/g)) names.add(m[1]);
  return [...names].sort();
}

/** The variables docs/configuration.md has a table row for: `| \`NAME\` | …`. */
function documentedVariables(): string[] {
  return [...read('docs/configuration.md').matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]).sort();
}

/** Read by the test and bench tooling, not by the app's config: documented in their own table. */
const TOOLING = ['CHROMIUM_PATH', 'TEST_DATABASE_URL', 'E2E_PORT', 'E2E_PG_PORT', 'E2E_DATABASE_URL'];

describe('docs/configuration.md', () => {
  it('documents every variable lib/config.ts reads', () => {
    const documented = new Set(documentedVariables());
    expect(variablesReadByConfig().filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents nothing the app no longer reads', () => {
    const read = new Set([...variablesReadByConfig(), ...TOOLING]);
    expect(documentedVariables().filter((name) => !read.has(name))).toEqual([]);
  });

  it('finds the variables it checks (the patterns still match the config module)', () => {
    expect(variablesReadByConfig()).toEqual(expect.arrayContaining(['DATABASE_URL', 'PORT', 'HOST', 'WORKERS', 'DASHBOARD_TOKEN']));
  });
});
