/**
 * Receive buffer of the UART: a byte ring. It stands for the 16550's 16-byte FIFO plus the
 * host-side backlog, so pasted input is kept (up to the capacity) and fed to the guest as
 * fast as its driver reads, instead of being dropped at 16 bytes.
 */
export class RxBuffer {
  private readonly ring: Uint8Array;
  private head = 0; // next byte to read
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`receive buffer capacity must be a positive integer, got ${capacity}`);
    this.ring = new Uint8Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  get free(): number {
    return this.capacity - this.count;
  }

  /** Appends as many bytes as fit; returns how many were taken. */
  push(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.free);
    for (let i = 0; i < n; i++) this.ring[(this.head + this.count + i) % this.capacity] = bytes[i];
    this.count += n;
    return n;
  }

  /** Removes and returns the oldest byte, or undefined when empty. */
  shift(): number | undefined {
    if (this.count === 0) return undefined;
    const b = this.ring[this.head];
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return b;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** The buffered bytes in order (a copy). */
  contents(): Uint8Array {
    const out = new Uint8Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.ring[(this.head + i) % this.capacity];
    return out;
  }
}
