import type { CellWorkers, ColoredCell } from '@/lib/types';

/** A read of `GET …/cells`: the finished cells and who recorded each. */
export type CellsBody = { cells: ColoredCell[] } & Partial<CellWorkers>;

/** Between reads that failed for a reason that may pass (offline, a server error). */
const RETRY_MS = 2_000;

/**
 * Reads a batch's finished cells over HTTP, which the server streams, into `into`, trying again
 * while a read fails for a reason that may pass. A first join leaves a large batch's cells out
 * (`cellsOmitted`) so a million of them never sit in one Socket.IO answer; this read starts after
 * that answer, so it holds every cell up to the answer's seq, and events and catch-up joins bring
 * the rest. Resolves once a read succeeded, was refused for good (4xx), or `signal` aborted.
 */
export async function readCells(url: string, signal: AbortSignal, into: (body: CellsBody) => void, retryMs = RETRY_MS): Promise<void> {
  while (!signal.aborted && (await readOnce(url, signal, into)) === 'again') await pause(retryMs, signal);
}

async function readOnce(url: string, signal: AbortSignal, into: (body: CellsBody) => void): Promise<'done' | 'again'> {
  try {
    const response = await fetch(url, { signal });
    if (!response.ok) return response.status >= 500 || response.status === 429 ? 'again' : 'done';
    into((await response.json()) as CellsBody);
    return 'done';
  } catch {
    return 'again';
  }
}

/** Waits `ms`, or less if `signal` aborts (or has: a read cut short by the abort lands here too). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
