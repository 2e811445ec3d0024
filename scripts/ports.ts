import { createServer } from 'node:net';

/**
 * Loopback ports for the processes a script or a test starts. Ports come from 20000–31999, below
 * Linux's ephemeral range (32768–60999), so no outgoing connection (a pg client, a socket) can take
 * one between our check and the child's listen, as happened with the kernel's own `listen(0)` picks.
 * Each process walks a slice of its own, in order: Vitest's parallel workers (VITEST_POOL_ID 1, 2, …)
 * each get a different one, so two test files never hand out the same port; other processes take a
 * slice at random.
 */
const LOW = 20_000;
const SLICE = 1_000;
const SLICES = 12;

const slice = (() => {
  const pool = Number(process.env.VITEST_POOL_ID);
  return Number.isInteger(pool) && pool > 0 ? (pool - 1) % SLICES : Math.floor(Math.random() * SLICES);
})();
let cursor = 0;

/** A TCP port on loopback, free a moment ago, that this process has not handed out before. */
export function freePort(): Promise<number> {
  return freePortRun(1);
}

/**
 * The first of `count` consecutive loopback ports, free a moment ago and not handed out before by
 * this process (for `npm start` with WEB_SERVERS, which listens on PORT, PORT+1, …).
 */
export async function freePortRun(count: number): Promise<number> {
  for (let tried = 0; tried < SLICE;) {
    if (cursor + count > SLICE) cursor = 0;
    const first = LOW + slice * SLICE + cursor;
    let free = 0;
    while (free < count && (await canListen(first + free))) free++;
    cursor += free + 1;
    tried += free + 1;
    if (free === count) return first;
  }
  throw new Error(`no ${count} consecutive free loopback ports in ${LOW + slice * SLICE}–${LOW + (slice + 1) * SLICE - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
