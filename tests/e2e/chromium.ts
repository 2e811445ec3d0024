import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chromium } from '@playwright/test';

/**
 * Which Chromium the end-to-end tests drive, found in this order:
 *
 * 1. `CHROMIUM_PATH`, when set (an error if nothing runnable is there: it was asked for);
 * 2. a Chromium or Chrome installed on the system (Debian's `chromium`, a Mac's applications);
 * 3. the browser Playwright downloads for itself (`npx playwright install chromium`), if there is one;
 * 4. the Chromium inside the npm package `@sparticuz/chromium` (a devDependency: x64 Linux only),
 *    unpacked once into the temporary folder. Machines that cannot download browsers get this one.
 *
 * The answer is kept in CHROMIUM_PATH, so Playwright's worker processes (which load the config
 * again, with this environment) do not search or unpack again.
 */
export function findChromium(): string {
  const asked = process.env.CHROMIUM_PATH;
  if (asked) {
    if (runnable(asked)) return asked;
    throw new Error(
      `CHROMIUM_PATH is set to ${asked}, but there is no runnable browser there. Point it at a Chromium or Chrome binary, or unset it.`,
    );
  }
  const found = [...SYSTEM_BROWSERS, playwrightsOwn()].find((p) => p && runnable(p)) ?? fromNpmPackage();
  if (!found) {
    throw new Error(
      'No Chromium for the end-to-end tests: none on the system, none downloaded by Playwright, and @sparticuz/chromium ' +
        `ships x64 Linux only (this is ${process.platform}-${process.arch}). Install Chrome or Chromium, run ` +
        '`npx playwright install chromium`, or set CHROMIUM_PATH to a browser binary.',
    );
  }
  process.env.CHROMIUM_PATH = found;
  return found;
}

/**
 * Launch arguments: no sandbox (the tests may run as root) and none of Chromium's own network
 * traffic, which a closed network refuses, many connections at a time.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SYSTEM_BROWSERS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

function playwrightsOwn(): string | null {
  try {
    return chromium.executablePath();
  } catch {
    return null;
  }
}

/** Unpacks @sparticuz/chromium's browser; the package's API is async, so a child process runs it. */
function fromNpmPackage(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  const script = "import('@sparticuz/chromium').then(async (m) => process.stdout.write(await m.default.executablePath()))";
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  const path = result.stdout.trim();
  return result.status === 0 && path && runnable(path) ? path : null;
}

function runnable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
