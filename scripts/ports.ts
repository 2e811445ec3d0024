import { createServer } from 'node:net';

/** A TCP port on loopback that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The first of `count` consecutive loopback ports that were free a moment ago (for `npm start`
 * with WEB_SERVERS, which listens on PORT, PORT+1, …). Chosen below Linux's ephemeral range
 * (32768–60999), where no outgoing connection can be sitting on one of them meanwhile.
 */
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    let ok = true;
    for (let p = first; ok && p < first + count; p++) ok = await canListen(p);
    if (ok) return first;
  }
  throw new Error(`no ${count} consecutive free ports found between 20000 and 32000`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
