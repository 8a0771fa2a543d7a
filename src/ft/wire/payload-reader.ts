/**
 * Reads one message payload field by field from the stream, never past the length its
 * (CRC-checked) frame header gave: an inner length that claims more is refused before
 * the reader waits for it. Every byte goes into the payload CRC, and into the SHA-256
 * while `hashing` is on.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32Continue } from '../../snapshot/crc.js';
import { SnapshotError } from '../../snapshot/errors.js';
import type { ExactReader } from '../../snapshot/snapshot-parser.js';
import { FtStreamEndedError, FtWireError } from './errors.js';

/** The stream's own errors (truncation, socket error, abort) as FtWireErrors. */
export async function asWireError<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof SnapshotError) throw new FtStreamEndedError(e.message);
    throw e;
  }
}

export class PayloadReader {
  crc = 0;
  hashing = true;
  /** An EPOCH's trailing SHA-256 once the decoder has checked it (the frame tag covers it). */
  checkedSha256?: Uint8Array;
  private readonly hash: Hash = createHash('sha256');

  constructor(private readonly input: ExactReader, public remaining: number, readonly where: string) {}

  private claim(n: number, what: string): void {
    if (n > this.remaining) {
      throw new FtWireError(`${this.where}: ${what} (${n} bytes) runs past the end of the message (${this.remaining} bytes left): the channel is damaged`);
    }
    this.remaining -= n;
  }

  private take(piece: Uint8Array): void {
    this.crc = crc32Continue(piece, this.crc);
    if (this.hashing) this.hash.update(piece);
  }

  async bytes(n: number, what: string): Promise<Uint8Array> {
    this.claim(n, what);
    const b = await asWireError(() => this.input.exact(n, `${this.where}, ${what}`));
    this.take(b);
    return b;
  }

  /** Like bytes(), as the pieces the stream delivered them in (no joining copy). */
  async pieces(n: number, what: string): Promise<Uint8Array[]> {
    this.claim(n, what);
    const where = `${this.where}, ${what}`;
    const pieces = this.input.pieces
      ? await asWireError(() => this.input.pieces!(n, where))
      : [await asWireError(() => this.input.exact(n, where))];
    for (const p of pieces) this.take(p);
    return pieces;
  }

  async u32(what: string): Promise<number> {
    const b = await this.bytes(4, what);
    return Buffer.from(b.buffer, b.byteOffset, 4).readUInt32LE(0);
  }

  /** A u64 that must fit a JavaScript number (epoch numbers, disk offsets). */
  async u64(what: string): Promise<number> {
    const b = await this.bytes(8, what);
    return safeU64(Buffer.from(b.buffer, b.byteOffset, 8), 0, `${this.where}: ${what}`);
  }

  digest(): Buffer {
    return this.hash.digest();
  }
}

export function safeU64(b: Buffer, offset: number, what: string): number {
  const v = b.readBigUInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FtWireError(`${what} is ${v}, beyond what cuju uses: the channel is damaged`);
  return Number(v);
}
