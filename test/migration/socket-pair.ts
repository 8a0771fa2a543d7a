/** Two connected loopback TCP sockets (a client and the server's side of it). */
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';

export async function socketPair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as { port: number }).port;
  const accepted = once(listener, 'connection');
  const client = connect({ host: '127.0.0.1', port });
  await once(client, 'connect');
  const [server] = (await accepted) as [Socket];
  listener.close();
  return {
    client, server,
    close() {
      client.destroy();
      server.destroy();
    },
  };
}
