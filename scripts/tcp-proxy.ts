import net from 'node:net';

/**
 * A loopback TCP proxy in front of a server, to cut a client's link and restore it: `cut()` drops
 * every connection and refuses new ones (the port closes), `restore()` listens again on the same port.
 * `bytesToClients()` counts what the server sent through it, as it travels on the wire.
 */
export async function startProxy(targetPort: number) {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let toClients = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.on('data', (chunk: Buffer) => (toClients += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cut = () =>
    new Promise<void>((resolve) => {
      if (server.listening) server.close(() => resolve());
      else resolve();
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    });
  // Stops (and restarts) reading what the server sends: a client too slow to keep up.
  const reading = (on: boolean) => pairs.forEach(([, upstream]) => (on ? upstream.resume() : upstream.pause()));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut,
    restore: () => listen(port),
    close: cut,
    stall: () => reading(false),
    unstall: () => reading(true),
    bytesToClients: () => toClients,
  };
}
