/**
 * Reads an image as extents of data and of zeros, for a copy that does not send zeros.
 * The addon has no lseek(SEEK_DATA/SEEK_HOLE), so holes are found by reading: each
 * block is read and every `grain` of it that is all zero (a hole reads as zeros, and
 * memcmp against a zero buffer runs at memory speed) joins a zero extent. Reading a hole
 * costs the kernel a page-cache zero fill, no disk I/O (measured: see docs/BENCHMARKS.md
 * "disk copy"); SEEK_DATA would skip even that and is the natural next step if images
 * get large.
 *
 * The next block is read while the current one is looked at. Data extents are copies
 * (the caller may hold on to them, e.g. queued on a socket) of at most one block; runs
 * of zero grains merge across blocks into one extent.
 */
import type { BlockBackend } from '../../block/backend.js';

export type Extent = { kind: 'data'; offset: number; data: Uint8Array } | { kind: 'zero'; offset: number; length: number };

export interface SparseReadOptions {
  /** Bytes read per request (default 1 MiB). */
  blockBytes?: number;
  /** Zero detection granularity (default 64 KiB; divides blockBytes). */
  grainBytes?: number;
  /** Called after each block with the bytes of the image read so far. */
  onScanned?(bytes: number): void;
}

export const DEFAULT_BLOCK_BYTES = 1024 * 1024;
export const DEFAULT_GRAIN_BYTES = 64 * 1024;

export async function* sparseExtents(image: BlockBackend, opts: SparseReadOptions = {}): AsyncGenerator<Extent> {
  const blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const grain = opts.grainBytes ?? DEFAULT_GRAIN_BYTES;
  if (blockBytes % grain !== 0) throw new Error(`sparseExtents: grain ${grain} does not divide block ${blockBytes}`);
  const zeros = Buffer.alloc(grain);
  const size = image.sizeBytes;
  const blocks = Math.ceil(size / blockBytes);
  // Two buffers: block k+1 is read while block k is looked at and its extents sent.
  const buffers = [image.acquire(blockBytes), image.acquire(blockBytes)];
  const readBlock = (k: number): Promise<Uint8Array> => {
    const block = buffers[k % 2].subarray(0, Math.min(blockBytes, size - k * blockBytes));
    return image.read(k * blockBytes, block).then(() => block);
  };
  let pending: Promise<Uint8Array> | undefined = blocks > 0 ? readBlock(0) : undefined;
  let zeroStart = -1;
  try {
    for (let k = 0; k < blocks; k++) {
      const block = await pending!;
      pending = k + 1 < blocks ? readBlock(k + 1) : undefined;
      const offset = k * blockBytes;
      const n = block.length;
      opts.onScanned?.(offset + n);
      let dataStart = -1;
      for (let g = 0; g < n; g += grain) {
        const piece = block.subarray(g, Math.min(g + grain, n));
        const isZero = Buffer.compare(piece, zeros.subarray(0, piece.length)) === 0;
        if (isZero) {
          if (dataStart >= 0) {
            yield { kind: 'data', offset: offset + dataStart, data: new Uint8Array(block.subarray(dataStart, g)) };
            dataStart = -1;
          }
          if (zeroStart < 0) zeroStart = offset + g;
        } else {
          if (zeroStart >= 0) {
            yield { kind: 'zero', offset: zeroStart, length: offset + g - zeroStart };
            zeroStart = -1;
          }
          if (dataStart < 0) dataStart = g;
        }
      }
      if (dataStart >= 0) yield { kind: 'data', offset: offset + dataStart, data: new Uint8Array(block.subarray(dataStart, n)) };
    }
    if (zeroStart >= 0) yield { kind: 'zero', offset: zeroStart, length: size - zeroStart };
  } finally {
    // A consumer that stops early: the read in progress must not land in a released buffer.
    await pending?.catch(() => {});
    for (const b of buffers) image.release(b);
  }
}
