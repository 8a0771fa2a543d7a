/**
 * A TCP proxy between a migration source and its destination that injects one fault
 * into the first connection through it, at a chosen byte of a chosen part of the
 * stream (stream-map.ts): cut it (RST both ways, a network failure), close it (FIN
 * both ways, a peer going away), truncate it (the destination sees the stream end,
 * replies still flow), corrupt one byte, or stall it for a while. Later connections
 * pass through untouched. Backpressure is passed on both ways (a slow reader slows
 * the writer, as a real path would), so a peer that stops reading is not hidden by
 * buffering in the proxy.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { StreamMap, type PartKind, type StreamPart } from './stream-map.js';

export type FaultAction =
  | { kind: 'reset' }
  | { kind: 'close' }
  | { kind: 'truncate' }
  | { kind: 'corrupt'; xor?: number }
  | { kind: 'stall'; ms: number }
  /** A network partition: nothing passes either way any more, and no close or reset gets through either. */
  | { kind: 'partition' };

export interface FaultPoint {
  /** 'stream': source → destination; 'replies': destination → source. */
  direction: 'stream' | 'replies';
  part: PartKind;
  /** Only a part with this index (memory: pass number; reply: line number). */
  index?: number;
  /** The nth matching part (0-based; default 0). */
  nth?: number;
  /** Byte within the part; clamped to its last byte. */
  offset: number;
}

export interface Fault {
  at: FaultPoint;
  action: FaultAction;
}

export function describeFault(f: Fault): string {
  const idx = f.at.index === undefined ? '' : `[${f.at.index}]`;
  const nth = f.at.nth ? ` #${f.at.nth}` : '';
  const extra = f.action.kind === 'corrupt' ? ` xor 0x${(f.action.xor ?? 0xff).toString(16)}` : f.action.kind === 'stall' ? ` ${f.action.ms} ms` : '';
  return `${f.action.kind}${extra} at ${f.at.direction} ${f.at.part}${idx}${nth} +${f.at.offset}`;
}

/** One direction of the proxied connection. */
class Pipe {
  private readonly map: StreamMap;
  private held: Buffer[] = [];
  /** Offset of the first held byte. */
  private heldStart = 0;
  private faultAt?: number;
  private matches = 0;
  private stalledUntil = 0;
  private ended = false;
  /** Drop everything from now on (after a truncate). */
  discard = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    direction: 'stream' | 'replies',
    private readonly fault: Fault | undefined,
    private readonly onFault: (where: number, action: FaultAction) => void,
  ) {
    this.map = new StreamMap(direction, (p) => this.onPart(p));
    from.on('data', (d: Buffer) => this.onData(d));
  }

  private onPart(p: StreamPart): void {
    const at = this.fault?.at;
    if (!at || this.faultAt !== undefined || p.kind !== at.part) return;
    if (at.index !== undefined && p.index !== at.index) return;
    if (this.matches++ !== (at.nth ?? 0)) return;
    this.faultAt = p.start + Math.min(at.offset, p.length - 1);
  }

  private onData(d: Buffer): void {
    if (this.discard) return;
    this.held.push(d);
    this.map.feed(d);
    this.flush();
  }

  /** Forwards what is identified, stopping at the fault point to apply it. */
  private flush(): void {
    if (this.discard || this.stalled()) return;
    let limit = this.map.identifiedThrough;
    const fault = this.faultAt;
    const firing = fault !== undefined && fault < limit && fault >= this.heldStart;
    if (firing) limit = fault;
    const out = this.take(limit - this.heldStart);
    if (out.length > 0 && !this.to.write(out)) {
      this.from.pause();
      this.to.once('drain', () => this.from.resume());
    }
    if (firing) this.fire();
  }

  /** True while stalled (what arrives is held, and the sender is paused). */
  private stalled(): boolean {
    return performance.now() < this.stalledUntil;
  }

  private take(n: number): Buffer {
    if (n <= 0) return Buffer.alloc(0);
    const all = Buffer.concat(this.held);
    this.held = [all.subarray(n)];
    this.heldStart += n;
    return all.subarray(0, n);
  }

  private fire(): void {
    const action = this.fault!.action;
    const where = this.faultAt!;
    this.faultAt = Number.POSITIVE_INFINITY; // once
    this.onFault(where, action);
    switch (action.kind) {
      case 'reset':
        this.from.resetAndDestroy();
        this.to.resetAndDestroy();
        return;
      case 'close':
        this.from.end();
        this.to.end();
        this.discard = true;
        this.from.resume();
        return;
      case 'truncate':
        this.to.end();
        this.discard = true;
        this.from.resume();
        return;
      case 'corrupt': {
        const b = this.take(1);
        b[0] ^= action.xor ?? 0xff;
        this.to.write(b);
        this.flush();
        return;
      }
      case 'partition':
        this.discard = true;
        return;
      case 'stall':
        this.stalledUntil = performance.now() + action.ms;
        this.from.pause();
        setTimeout(() => { this.stalledUntil = 0; this.from.resume(); this.flush(); }, action.ms);
        return;
    }
  }

  /** The source side ended: pass the end on once everything held went out. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.discard && !this.to.destroyed) this.to.end();
  }
}

export class FaultProxy {
  /** Where the fault fired (byte offset in its direction), undefined if the stream never got there. */
  firedAt?: number;
  /** Connections accepted so far (only the first one gets the fault). */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number, fault?: Fault): Promise<FaultProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new FaultProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (client) => proxy.accept(client, targetPort, proxy.connections++ === 0 ? fault : undefined));
    return proxy;
  }

  get fired(): boolean {
    return this.firedAt !== undefined;
  }

  private accept(source: Socket, targetPort: number, fault: Fault | undefined): void {
    source.pause();
    const dest = connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [source, dest]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => this.sockets.delete(s));
    }
    let partitioned = false;
    let up: Pipe | undefined;
    let down: Pipe | undefined;
    const onFault = (where: number, action: FaultAction) => {
      this.firedAt = where;
      if (action.kind !== 'partition') return;
      partitioned = true;
      // Nothing is read any more either way, so writers back up as on a dead path.
      up!.discard = true;
      down!.discard = true;
      source.pause();
      dest.pause();
    };
    dest.once('connect', () => {
      up = new Pipe(source, dest, 'stream', fault?.at.direction === 'stream' ? fault : undefined, onFault);
      down = new Pipe(dest, source, 'replies', fault?.at.direction === 'replies' ? fault : undefined, onFault);
      source.on('end', () => { if (!partitioned) up!.end(); });
      dest.on('end', () => { if (!partitioned) down!.end(); });
      // One side gone for good: so is the other (a reset stays a reset), unless partitioned.
      source.on('close', (hadError) => { if (partitioned) return; if (hadError) dest.resetAndDestroy(); else if (!up!.discard) dest.end(); });
      dest.on('close', (hadError) => { if (partitioned) return; if (hadError) source.resetAndDestroy(); else if (!down!.discard) source.end(); });
      source.resume();
    });
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
