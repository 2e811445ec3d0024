import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/log';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['app', 'lib', 'next.config.js', 'package.json', 'tsconfig.json'];

/** Runs `next build` when there is no build yet or a page source changed since the last one. */
export async function buildIfNeeded(log: Logger): Promise<void> {
  const buildId = path.join(ROOT, '.next', 'BUILD_ID');
  if (existsSync(buildId) && newestMtime(SOURCES.map((s) => path.join(ROOT, s))) <= statSync(buildId).mtimeMs) return;
  log.info('building the pages (next build); this takes a few seconds the first time');
  await new Promise<void>((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(ROOT, 'node_modules/next/dist/bin/next'), 'build'], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    proc.on('error', reject);
    proc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`next build failed (exit code ${code}); see its output above.`))));
  });
}

function newestMtime(paths: string[]): number {
  let newest = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const stat = statSync(p);
    newest = Math.max(newest, stat.mtimeMs);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(p)) newest = Math.max(newest, newestMtime([path.join(p, entry)]));
    }
  }
  return newest;
}
