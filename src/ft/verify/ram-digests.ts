/**
 * The digests FT verify mode compares: SHA-256 of guest RAM per fixed-size chunk (so a
 * mismatch names a page range, not just "RAM differs") and SHA-256 of the device states.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { GuestMemory } from '../../memory/guest-memory.js';
import { hashDeviceStates } from '../../migration/verify.js';
import { PAGE_SIZE, type PageRange } from '../wire/index.js';

/** 1 MiB: 128 digests (4 KiB on the wire) for 128 MiB of RAM, and a mismatch narrowed to 256 pages. */
export const VERIFY_CHUNK_BYTES = 1 << 20;
/** Chunks hashed between two yields to the event loop when hashing off the pause (~0.7 ms each, measured). */
const CHUNKS_PER_SLICE = 4;

/** Guest RAM as one buffer: cuju's RAM is one region at GPA 0. */
export function ramBuffer(ram: Uint8Array | GuestMemory): Buffer {
  const bytes = ram instanceof GuestMemory ? ram.view(0, ram.size) : ram;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function chunkDigest(ram: Buffer, i: number, chunkBytes: number): Uint8Array {
  return createHash('sha256').update(ram.subarray(i * chunkBytes, Math.min(ram.length, (i + 1) * chunkBytes))).digest();
}

/** Every chunk's digest at once (the backup: nothing else waits for it there). */
export function ramDigests(ram: Buffer, chunkBytes = VERIFY_CHUNK_BYTES): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i * chunkBytes < ram.length; i++) out.push(chunkDigest(ram, i, chunkBytes));
  return out;
}

/**
 * The same, a few chunks at a time with the event loop let run in between (the primary:
 * its ACKs, epoch boundaries and device I/O go on while a snapshot is hashed).
 */
export async function ramDigestsSliced(ram: Buffer, chunkBytes = VERIFY_CHUNK_BYTES): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i * chunkBytes < ram.length; i++) {
    out.push(chunkDigest(ram, i, chunkBytes));
    if (i % CHUNKS_PER_SLICE === CHUNKS_PER_SLICE - 1) await yieldToEventLoop();
  }
  return out;
}

export function deviceDigest(states: readonly unknown[]): Uint8Array {
  return Buffer.from(hashDeviceStates(states), 'hex');
}

/** Page ranges of the chunks whose digests differ, adjacent chunks merged, ascending. */
export function differingRanges(ours: readonly Uint8Array[], theirs: readonly Uint8Array[], chunkBytes: number, ramBytes: number): PageRange[] {
  const ranges: PageRange[] = [];
  const chunkPages = chunkBytes / PAGE_SIZE;
  const ramPages = Math.ceil(ramBytes / PAGE_SIZE);
  for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
    const a = ours[i];
    const b = theirs[i];
    if (a && b && Buffer.from(a).equals(Buffer.from(b))) continue;
    const firstPage = i * chunkPages;
    const pages = Math.min(chunkPages, ramPages - firstPage);
    const last = ranges.at(-1);
    if (last && last.firstPage + last.pages === firstPage) last.pages += pages;
    else ranges.push({ firstPage, pages });
  }
  return ranges;
}

/** "pages 256-511, 1024-1279" for logs and events. */
export function describeRanges(ranges: readonly PageRange[]): string {
  return ranges.map((r) => `pages ${r.firstPage}-${r.firstPage + r.pages - 1}`).join(', ');
}
