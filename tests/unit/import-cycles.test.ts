import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The house's floors (docs/architecture.md, "The house"): a folder imports only from folders below
 * it, so no folder imports one that imports it back, however long the way round. The graph is read
 * from the sources' import lines: relative paths and the `@/` alias; packages are left out.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCES = ['server.ts', 'app', 'web', 'lib', 'workers', 'scripts', 'tests'];
const IMPORT = /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]/gm;

function sourceFiles(entry: string): string[] {
  const full = path.join(ROOT, entry);
  let names: string[];
  try {
    names = readdirSync(full);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return /\.tsx?$/.test(entry) ? [entry] : [];
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((name) => name !== 'node_modules').flatMap((name) => sourceFiles(path.join(entry, name)));
}

/** Folder → folders it imports from, each with one import line that shows why. */
function folderGraph(files: { file: string; source: string }[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const { file, source } of files) {
    const from = path.dirname(file);
    for (const [, spec] of source.matchAll(IMPORT)) {
      let target: string;
      if (spec.startsWith('.')) target = path.join(from, spec);
      else if (spec.startsWith('@/')) target = spec.slice(2);
      else continue;
      const to = path.dirname(target);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      const edges = graph.get(from)!;
      if (!edges.has(to)) edges.set(to, `${file} imports '${spec}'`);
    }
  }
  return graph;
}

/** Every strongly connected set of two or more folders (Tarjan), each with the imports inside it. */
function folderCycles(graph: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(member);
    } while (member !== node);
    if (members.length < 2) return;
    const inside = new Set(members);
    cycles.push(
      [...inside].flatMap((from) =>
        [...(graph.get(from) ?? [])].filter(([to]) => inside.has(to)).map(([to, why]) => `${from} → ${to}: ${why}`),
      ),
    );
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

const files = SOURCES.flatMap(sourceFiles).map((file) => ({ file, source: readFileSync(path.join(ROOT, file), 'utf8') }));

describe('folder imports', () => {
  it('form no cycle: no folder imports one that imports it back', () => {
    expect(folderCycles(folderGraph(files))).toEqual([]);
  });

  it('sees the graph it checks (the import pattern still matches the sources)', () => {
    const graph = folderGraph(files);
    expect(files.length).toBeGreaterThan(100);
    expect([...(graph.get('workers')?.keys() ?? [])]).toEqual(expect.arrayContaining(['lib/db', 'lib/queue']));
    expect([...(graph.get('app/api/batches')?.keys() ?? [])]).toContain('lib/batches');
  });

  it('finds a cycle when there is one, however long the way round', () => {
    const graph = folderGraph([
      { file: 'a/x.ts', source: "import { y } from '../b/y';" },
      { file: 'b/y.ts', source: "export { z } from '@/c/z';" },
      { file: 'c/z.ts', source: "import type { x } from '../a/x';\nimport pg from 'pg';" },
      { file: 'd/w.ts', source: "import { x } from '../a/x';" },
    ]);
    expect(folderCycles(graph).map((cycle) => cycle.length)).toEqual([3]);
  });
});
