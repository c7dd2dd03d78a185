/**
 * Free loopback ports. Asking the kernel for port 0 and closing the socket leaves a small
 * window in which another process may take the port: callers that then fail to bind
 * retry on a fresh port (see `withPortRetry` in process.ts).
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('the kernel returned no port for 127.0.0.1:0'));
      });
    });
  });
}

/** `count` distinct free ports (ports asked for together are never the same). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
