import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { blockedDirectory } from '../../lib/db/embedded';

// Embedded PostgreSQL runs as its own OS user when we are root: that user must be able to enter
// every directory on the way to its binaries and data. A clone under a private directory (mode
// 700, as `mktemp -d` makes) is the case to name plainly instead of crashing in a spawn.

const OTHER = { uid: 54_321, gid: 54_321 };
let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

function tree(mode: number) {
  const top = mkdtempSync(path.join(tmpdir(), 'fl-access-'));
  dirs.push(top);
  const inner = path.join(top, 'repo', 'node_modules');
  mkdirSync(inner, { recursive: true });
  chmodSync(top, mode);
  return { top, inner };
}

describe('blockedDirectory', () => {
  it('names the first directory another user cannot enter', () => {
    const { top, inner } = tree(0o700);
    expect(blockedDirectory(inner, OTHER)).toBe(top);
    expect(blockedDirectory(path.join(inner, 'not-yet-created', 'pg'), OTHER)).toBe(top);
  });

  it('passes a path every directory of which others may enter', () => {
    const { inner } = tree(0o711);
    expect(blockedDirectory(inner, OTHER)).toBeNull();
  });

  it('lets the owner and the group through on their own bits', () => {
    const { top, inner } = tree(0o710);
    expect(blockedDirectory(inner, OTHER)).toBe(top);
    expect(blockedDirectory(inner, { uid: OTHER.uid, gid: process.getgid!() })).toBeNull();
    chmodSync(top, 0o700);
    expect(blockedDirectory(inner, { uid: process.getuid!(), gid: OTHER.gid })).toBeNull();
  });
});
