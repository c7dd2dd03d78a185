/**
 * Runs inside the cluster's network namespace (started through nsenter): for each
 * `<unix socket>=<host>:<port>` argument, accepts connections on the socket and joins each
 * to a TCP connection to that address inside the namespace. The other half, in the
 * orchestrator (publish.ts), listens on the machine's loopback and dials the socket: a
 * filesystem socket is reachable from both namespaces.
 */
import { createConnection, createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { joinSockets } from './join-sockets.ts';

for (const arg of process.argv.slice(2)) {
  const match = /^(.+)=([^=:]+):(\d+)$/.exec(arg);
  if (match === null) {
    console.error(`forwarder: argument ${JSON.stringify(arg)} is not <socket>=<host>:<port>`);
    process.exit(2);
  }
  const [, socket = '', host = '', port = ''] = match;
  rmSync(socket, { force: true });
  createServer((inbound) => {
    joinSockets(inbound, createConnection({ host, port: Number(port) }));
  }).listen(socket);
}
process.on('SIGTERM', () => process.exit(0));
