/**
 * Builds a message as a list of chunks without joining bulk data: small fields are
 * packed into shared buffers, large byte arrays (page data, disk writes) are appended
 * as views of the caller's memory. The socket then sends them with one writev.
 */
const BLOCK = 64 * 1024;
/** Smaller arrays are copied into the current block instead of becoming a chunk of their own. */
const COPY_BELOW = 1024;

export class ChunkBuilder {
  readonly chunks: Uint8Array[] = [];
  length = 0;
  private block = Buffer.allocUnsafe(BLOCK);
  private used = 0;
  private blockStart = 0;

  private room(n: number): void {
    if (this.used + n <= this.block.length) return;
    this.flush();
    this.block = Buffer.allocUnsafe(Math.max(BLOCK, n));
    this.used = 0;
    this.blockStart = 0;
  }

  private flush(): void {
    if (this.used > this.blockStart) this.chunks.push(this.block.subarray(this.blockStart, this.used));
    this.blockStart = this.used;
  }

  u32(v: number): this {
    this.room(4);
    this.block.writeUInt32LE(v >>> 0, this.used);
    this.used += 4;
    this.length += 4;
    return this;
  }

  u64(v: number | bigint): this {
    this.room(8);
    this.block.writeBigUInt64LE(BigInt(v), this.used);
    this.used += 8;
    this.length += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    if (b.length === 0) return this;
    if (b.length < COPY_BELOW) {
      this.room(b.length);
      this.block.set(b, this.used);
      this.used += b.length;
    } else {
      this.flush();
      this.chunks.push(b);
    }
    this.length += b.length;
    return this;
  }

  /** The chunks so far; the builder may go on appending after them. */
  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }
}
