/**
 * Where a snapshot is read from: sequential reads for the validating pass, and reads at
 * an offset for the applying pass (memory is re-read from the source rather than held).
 * A short read is reported as truncation, always as a SnapshotError.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { SnapshotError } from './errors.js';

export interface ByteSource {
  /** Human name for messages ('/tmp/vm.snap'). */
  readonly name: string;
  /** Reads `length` bytes at `offset`; fewer only at the end of the source. */
  readAt(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class BufferSource implements ByteSource {
  constructor(private readonly bytes: Uint8Array, readonly name = 'snapshot buffer') {}

  async readAt(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.subarray(offset, Math.min(offset + length, this.bytes.length));
  }

  async close(): Promise<void> {}
}

export class FileSource implements ByteSource {
  private constructor(private readonly fh: FileHandle, readonly name: string, private readonly size: number) {}

  static async open(path: string): Promise<FileSource> {
    try {
      const fh = await open(path, 'r');
      return new FileSource(fh, path, (await fh.stat()).size);
    } catch (e) {
      throw new SnapshotError(`cannot open snapshot ${path}: ${(e as Error).message}`);
    }
  }

  async readAt(offset: number, length: number): Promise<Uint8Array> {
    // Never allocate more than the file holds: a damaged length field asks for a lot.
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, this.size - offset)));
    length = buf.length;
    let got = 0;
    while (got < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(buf, got, length - got, offset + got));
      } catch (e) {
        throw new SnapshotError(`reading snapshot ${this.name} failed: ${(e as Error).message}`);
      }
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Sequential reads over a source, with an exact-length read that reports truncation. */
export class SequentialReader {
  offset = 0;

  constructor(private readonly source: ByteSource) {}

  async exact(length: number, what: string): Promise<Uint8Array> {
    const bytes = await this.source.readAt(this.offset, length);
    if (bytes.length < length) throw new SnapshotError(`snapshot ${this.source.name} is truncated: it ends inside ${what} at byte ${this.offset + bytes.length}`);
    this.offset += length;
    return bytes;
  }

  /** True when nothing follows the current offset. */
  async atEnd(): Promise<boolean> {
    return (await this.source.readAt(this.offset, 1)).length === 0;
  }
}
