/**
 * A loopback TCP connection through a relay that can go silent: after silence() nothing
 * passes either way any more, and no FIN or RST either (a hung peer, a pulled cable).
 * The forward direction (client → server) can be throttled, to keep a big message on the
 * wire for longer than a heartbeat timeout.
 */
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface SilentLink {
  /** The primary's end. */
  client: Socket;
  /** The backup's end. */
  server: Socket;
  /** From now on nothing is relayed; performance.now() of the moment is returned. */
  silence(): number;
  close(): void;
}

/** A reader that stops reading backs the writer up, as on a real path. */
function relayWithBackpressure(from: Socket, to: Socket, silent: () => boolean): void {
  from.on('data', (d: Buffer) => {
    if (silent() || to.write(d)) return;
    from.pause();
    to.once('drain', () => from.resume());
  });
}

export async function silentLink(opts: { forwardBytesPerSecond?: number } = {}): Promise<SilentLink> {
  const target = createServer();
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const relay = createServer();
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const serverSide = once(target, 'connection');
  const relayIn = once(relay, 'connection');
  const client = connect({ port: (relay.address() as { port: number }).port, host: '127.0.0.1' });
  const clientUp = once(client, 'connect');
  const [inbound] = (await relayIn) as [Socket];
  const outbound = connect({ port: (target.address() as { port: number }).port, host: '127.0.0.1' });
  const [server] = (await serverSide) as [Socket];
  await clientUp;
  target.close();
  relay.close();
  let silent = false;
  const sockets = [client, server, inbound, outbound];
  for (const s of sockets) s.on('error', () => {});

  // client → server, throttled when asked: a tick every 5 ms passes its share of bytes.
  const rate = opts.forwardBytesPerSecond;
  if (rate) {
    const queue: Buffer[] = [];
    inbound.on('data', (d: Buffer) => { if (!silent) queue.push(d); });
    const tick = setInterval(() => {
      let budget = Math.ceil(rate / 200);
      while (!silent && budget > 0 && queue.length > 0) {
        const head = queue[0];
        const n = Math.min(budget, head.length);
        outbound.write(head.subarray(0, n));
        if (n === head.length) queue.shift();
        else queue[0] = head.subarray(n);
        budget -= n;
      }
    }, 5);
    inbound.once('close', () => clearInterval(tick));
    outbound.once('close', () => clearInterval(tick));
  } else {
    relayWithBackpressure(inbound, outbound, () => silent);
  }
  relayWithBackpressure(outbound, inbound, () => silent);
  // A relay that went silent passes no close on either.
  inbound.on('end', () => { if (!silent) outbound.end(); });
  outbound.on('end', () => { if (!silent) inbound.end(); });
  return {
    client, server,
    silence: () => {
      silent = true;
      return performance.now();
    },
    close: () => { for (const s of sockets) s.destroy(); },
  };
}
