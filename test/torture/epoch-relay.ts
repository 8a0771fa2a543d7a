/**
 * A TCP relay on the replication path (primary → relay → backup) that damages the
 * FT stream once it is armed: corrupt one byte, or truncate (the backup sees its
 * connection end in the middle of whatever was in flight, while the primary's side
 * stays open until the backup closes it). Until armed, and in the reply direction,
 * bytes pass untouched, with backpressure passed on both ways.
 *
 * Unlike test/migration/proxy.ts, which aims at parts of the migration stream it parses,
 * this one counts bytes: the test arms it once protection has started, `afterBytes`
 * into the epoch stream, so the damage lands at a random place of some epoch (a page,
 * a header, a CRC), which is what a flaky NIC or a buggy middlebox would do.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export type RelayDamage = 'corrupt' | 'truncate';

export class EpochRelay {
  /** Bytes forwarded primary → backup so far. */
  forwarded = 0;
  /** Stream offset where the damage was done, once it was. */
  firedAt?: number;
  private armed?: { kind: RelayDamage; at: number; xor: number };
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetHost: string, targetPort: number): Promise<EpochRelay> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const relay = new EpochRelay(server, (server.address() as { port: number }).port);
    server.on('connection', (s) => relay.accept(s, targetHost, targetPort));
    return relay;
  }

  /** Damages the stream `afterBytes` bytes from now (xor: the bit pattern for 'corrupt', non-zero). */
  arm(kind: RelayDamage, afterBytes: number, xor = 0x5a): void {
    this.armed = { kind, at: this.forwarded + afterBytes, xor: xor || 0xff };
  }

  get fired(): boolean {
    return this.firedAt !== undefined;
  }

  private accept(source: Socket, host: string, port: number): void {
    source.pause();
    const dest = connect({ host, port });
    for (const s of [source, dest]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => this.sockets.delete(s));
    }
    let truncated = false;
    const pipe = (from: Socket, to: Socket, onChunk?: (d: Buffer) => Buffer | null) => {
      from.on('data', (d: Buffer) => {
        const out = onChunk ? onChunk(d) : d;
        if (out === null || to.destroyed) return;
        if (out.length && !to.write(out)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
    };
    dest.once('connect', () => {
      pipe(source, dest, (d) => {
        if (truncated) return null;
        const a = this.armed;
        const start = this.forwarded;
        this.forwarded += d.length;
        if (!a || this.fired || a.at >= start + d.length) return d;
        const i = Math.max(0, a.at - start);
        this.firedAt = start + i;
        if (a.kind === 'corrupt') {
          const copy = Buffer.from(d);
          copy[i] ^= a.xor;
          return copy;
        }
        // truncate: what came before the point goes out, then the backup sees the end.
        truncated = true;
        dest.end(d.subarray(0, i));
        return null;
      });
      pipe(dest, source);
      source.on('end', () => { if (!truncated) dest.end(); });
      dest.on('end', () => source.end());
      source.on('close', (hadError) => { if (hadError) dest.resetAndDestroy(); else if (!truncated) dest.end(); });
      dest.on('close', (hadError) => { if (hadError) source.resetAndDestroy(); else source.end(); });
      source.resume();
    });
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
