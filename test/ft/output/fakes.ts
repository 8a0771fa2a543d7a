/** Test doubles for the output-commit tests: a scriptable NetBackend and an in-memory BlockBackend. */
import type { NetBackend } from '../../../src/devices/virtio-net/backend.js';
import type { BlockBackend } from '../../../src/block/backend.js';
import { BlockIoError } from '../../../src/block/errors.js';

/** Records packets; `refuseNext` makes sends answer false (queued) until drain() is called. */
export class FakeNet implements NetBackend {
  readonly name = 'fake0';
  readonly stats = { droppedSends: 0 };
  readonly sent: Uint8Array[] = [];
  /** The pieces arrays exactly as passed (to check pass mode does not copy). */
  readonly rawSends: (readonly Uint8Array[])[] = [];
  /** Answer false for this many more sends (each still recorded as sent: the real tap queues it). */
  refuseNext = 0;
  private backedUp = false;
  private waiters: (() => void)[] = [];

  send(packet: readonly Uint8Array[]): boolean {
    this.rawSends.push(packet);
    this.sent.push(Buffer.concat(packet.map((p) => Buffer.from(p))));
    if (this.refuseNext > 0) {
      this.refuseNext--;
      this.backedUp = true;
      return false;
    }
    return !this.backedUp;
  }

  whenDrained(): Promise<void> {
    if (!this.backedUp) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get waitingForDrain(): number {
    return this.waiters.length;
  }

  drain(): void {
    this.backedUp = false;
    for (const w of this.waiters.splice(0)) w();
  }

  receive(): void {}
  stopReceive(): void {}
  pauseReceive(): void {}
  resumeReceive(): void {}
  setOffloads(): void {}
}

/**
 * A disk in memory. Every operation completes after `delay()` turns of the event loop,
 * so tests can make requests complete out of order.
 */
export class MemoryDisk implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readonly = false;
  readonly canDiscard = true;
  flushes = 0;
  /** Operations in the order they reached the disk. */
  readonly trace: string[] = [];
  delay: (kind: string, offset: number) => number = () => 0;
  failWrites = false;

  constructor(size: number, fill = 0) {
    this.bytes = new Uint8Array(size).fill(fill);
  }

  get sizeBytes(): number {
    return this.bytes.length;
  }

  acquire(length: number): Uint8Array {
    return new Uint8Array(length);
  }

  release(): void {}

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    this.check(offset, buffer.length);
    // The data is what the disk held when the read was issued; completion comes later.
    const data = this.bytes.slice(offset, offset + buffer.length);
    await turns(this.delay('read', offset));
    buffer.set(data);
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    this.check(offset, buffer.length);
    const data = buffer.slice();
    await turns(this.delay('write', offset));
    if (this.failWrites) throw new BlockIoError('injected write failure');
    this.bytes.set(data, offset);
    this.trace.push(`write ${offset}+${data.length}`);
  }

  async flush(): Promise<void> {
    await turns(this.delay('flush', 0));
    this.flushes++;
    this.trace.push('flush');
  }

  async discard(offset: number, length: number): Promise<void> {
    this.check(offset, length);
    await turns(this.delay('discard', offset));
    this.bytes.fill(0, offset, offset + length);
    this.trace.push(`discard ${offset}+${length}`);
  }

  async close(): Promise<void> {}

  private check(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.bytes.length) throw new BlockIoError(`access ${offset}+${length} outside`);
  }
}

export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Whether a promise has settled, after letting pending callbacks run. */
export async function settled(p: Promise<unknown>, spins = 5): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await turns(spins);
  return done;
}

export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return out;
}
