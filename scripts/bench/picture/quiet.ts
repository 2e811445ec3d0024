import { setTimeout as sleep } from 'node:timers/promises';
import { type AppProcess, diff, snapshot } from './cpu';
import { log, secs } from './format';

/**
 * The machine may be shared: before a timed run, wait (up to QUIET_MAX_WAIT_MS) until processes
 * that are not this bench's use under QUIET_CORES of CPU for two one-second windows in a row.
 */
const QUIET_CORES = 0.25;
const QUIET_MAX_WAIT_MS = 20_000;
/** All waits of one bench together, so that a busy machine cannot stretch it much. */
const QUIET_BUDGET_MS = 90_000;
let quietSpentMs = 0;
export async function waitForQuiet(app: AppProcess[], postmasterPid: number | null): Promise<void> {
  const started = Date.now();
  const limit = Math.min(QUIET_MAX_WAIT_MS, QUIET_BUDGET_MS - quietSpentMs);
  try {
    await waitForQuietWithin(app, postmasterPid, started, limit);
  } finally {
    quietSpentMs += Date.now() - started;
  }
}

async function waitForQuietWithin(app: AppProcess[], postmasterPid: number | null, started: number, limit: number): Promise<void> {
  let quiet = 0;
  let last: number;
  while (quiet < 2) {
    const a = snapshot(app, postmasterPid);
    await sleep(1000);
    last = diff(a, snapshot(app, postmasterPid), new Map(), postmasterPid).other;
    quiet = last < QUIET_CORES ? quiet + 1 : 0;
    if (quiet < 2 && Date.now() - started > limit) {
      log(`the machine is busy with other work (${last.toFixed(2)} cores outside this bench over the last second); measuring anyway`);
      return;
    }
  }
  if (Date.now() - started > 2500) log(`waited ${secs(Date.now() - started)} for other work on the machine to calm down`);
}
