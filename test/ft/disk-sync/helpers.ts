/** Shared pieces of the disk-copy tests: disks over MemoryDisk, reading records out of a buffer. */
import type { BlockBackend } from '../../../src/block/backend.js';
import type { FtDisk, DiskMode } from '../../../src/ft/disk-sync/disks.js';
import { DiskCopyError } from '../../../src/ft/disk-sync/errors.js';
import type { ExactRead } from '../../../src/ft/disk-sync/format.js';
import { HoldingBlockBackend } from '../../../src/ft/output/holding-block-backend.js';
import { ReplicatingBlockBackend } from '../../../src/ft/output/replicating-block-backend.js';
import type { MemoryDisk } from '../output/fakes.js';
import { BlockIoError } from '../../../src/block/errors.js';

/** `disk` as a read-only image (readonly=on): reads pass, writes are refused. */
export function readonlyView(disk: MemoryDisk): BlockBackend {
  return {
    sizeBytes: disk.sizeBytes, readonly: true, canDiscard: false,
    acquire: (n) => disk.acquire(n), release: () => {},
    read: (o, b) => disk.read(o, b),
    write: () => Promise.reject(new BlockIoError('read-only')),
    discard: () => Promise.reject(new BlockIoError('read-only')),
    flush: async () => {}, close: async () => {},
  };
}

/** An FtDisk over `image` with the gate the CLI would give that mode. */
export function diskOf(id: string, mode: DiskMode, image: BlockBackend): FtDisk {
  const gate = mode === 'shared' ? new HoldingBlockBackend(image) : new ReplicatingBlockBackend(image);
  return { id, mode, gate, image };
}

/** Exact reads out of one buffer; running off its end is the truncation a socket would report. */
export function bufferReader(bytes: Uint8Array): ExactRead & { readonly offset: number } {
  let offset = 0;
  const read = async (n: number, what: string) => {
    if (offset + n > bytes.length) throw new DiskCopyError(`the stream ended inside ${what}`);
    const b = bytes.subarray(offset, offset + n);
    offset += n;
    return b;
  };
  return Object.defineProperty(read, 'offset', { get: () => offset }) as ExactRead & { readonly offset: number };
}

export function concat(pieces: Uint8Array[][]): Buffer {
  return Buffer.concat(pieces.flat());
}
