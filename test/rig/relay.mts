// A TCP relay in front of a test's registry, so a test can catch a pull in the middle: once one
// answer has carried more than `holdAfterBytes`, that connection stops moving (the pull hangs
// there, as on a slow link) and `held` resolves. The test then does the bad thing (stops the
// registry, restarts the engine) at a moment that is really mid-pull, whatever the machine's speed.
// Pushes and pulls pass through untouched until a hold is armed. No vitest import.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Relay {
  /** LISTEN:PORT (127.0.0.1:PORT unless told): the registry address images are named with. */
  address: string;
  port: number;
  /** The next connection that carries more than `bytes` towards the client stops there. */
  holdAfter(bytes: number): Promise<void>;
  /** Ends held connections (the client sees the connection reset); the relay keeps serving. */
  release(): void;
  /** Stops listening and ends every connection: to the client, the registry is gone. */
  close(): Promise<void>;
}

/** `listen`: the address it listens on (127.0.0.1 unless given), on a port the kernel picks. */
export async function startRelay(target: { host: string; port: number }, listen = '127.0.0.1'): Promise<Relay> {
  const sockets = new Set<Socket>();
  const heldSockets = new Set<Socket>();
  let hold: { bytes: number; resolve: () => void } | undefined;

  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => [client, upstream].forEach((t) => t.destroy()));
    }
    client.pipe(upstream);
    let carried = 0;
    upstream.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      if (hold && carried > hold.bytes && !heldSockets.has(upstream)) {
        const { resolve } = hold;
        hold = undefined;
        upstream.pause();
        upstream.unpipe(client);
        heldSockets.add(client).add(upstream);
        resolve();
      }
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen, () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  const endHeld = () => {
    for (const s of heldSockets) s.destroy();
    heldSockets.clear();
  };
  return {
    address: `${listen}:${port}`,
    port,
    holdAfter: (bytes) => new Promise<void>((resolve) => (hold = { bytes, resolve })),
    release: endHeld,
    async close() {
      hold = undefined;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      endHeld();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
