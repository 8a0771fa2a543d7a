/**
 * The two ends of an epoch's pages. stagePages runs on the primary while the vCPUs are
 * paused: it copies the dirty pages out of guest RAM so the epoch is exactly RAM at the
 * boundary however the guest rewrites those pages while the epoch is sent. applyPages
 * runs on the backup once the whole epoch has been verified. Both take guest RAM as a
 * buffer or a GuestMemory and bypass GuestMemory's write hook (the backup tracks nothing).
 */
import { GuestMemory } from '../../memory/guest-memory.js';
import { PageBitmap } from '../../memory/page-bitmap.js';
import { PAGE_SIZE } from './format.js';
import type { EpochPages, StagedPages } from './messages.js';
import { checkEpochPages } from './page-runs.js';

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Guest RAM as one buffer: cuju's RAM is one region at GPA 0 (view() throws otherwise). */
function ramBytes(ram: Uint8Array | GuestMemory): Buffer {
  return asBuffer(ram instanceof GuestMemory ? ram.view(0, ram.size) : ram);
}

/** Ascending, duplicate-free page numbers; sorts only when the input was not already so. */
function pageList(pages: Iterable<number> | PageBitmap | Uint32Array): Uint32Array {
  if (pages instanceof PageBitmap) return pages.pages();
  const list = pages instanceof Uint32Array ? pages : Uint32Array.from(pages);
  for (let i = 1; i < list.length; i++) {
    if (list[i] <= list[i - 1]) {
      const sorted = Uint32Array.from(list).sort();
      let n = 0;
      for (let j = 0; j < sorted.length; j++) if (j === 0 || sorted[j] !== sorted[j - 1]) sorted[n++] = sorted[j];
      return sorted.subarray(0, n);
    }
  }
  return list;
}

/**
 * Copies `pages` of `ram` (guest-physical page numbers) into one buffer, page i at
 * i*4096. Consecutive pages are copied in one memcpy. `into` is reused when it is large
 * enough: a fresh buffer costs a page fault per page on first touch, which dominates
 * the copy (see bench/ft-wire.ts), so the caller should keep a pool of staging buffers.
 */
export function stagePages(ram: Uint8Array | GuestMemory, pages: Iterable<number> | PageBitmap | Uint32Array, into?: Uint8Array): StagedPages {
  const pageNumbers = pageList(pages);
  const n = pageNumbers.length;
  const source = ramBytes(ram);
  const ramPages = Math.floor(source.length / PAGE_SIZE);
  if (n > 0 && pageNumbers[n - 1] >= ramPages) throw new RangeError(`dirty page ${pageNumbers[n - 1]} is outside guest RAM (${ramPages} pages)`);
  const bytes = n * PAGE_SIZE;
  const target = into && into.length >= bytes ? asBuffer(into).subarray(0, bytes) : Buffer.allocUnsafe(bytes);
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && pageNumbers[j] === pageNumbers[j - 1] + 1) j++;
    source.copy(target, i * PAGE_SIZE, pageNumbers[i] * PAGE_SIZE, (pageNumbers[j - 1] + 1) * PAGE_SIZE);
    i = j;
  }
  return { pageNumbers, pageData: target };
}

/**
 * Writes a verified epoch's pages into the backup's RAM: data pages (one copy per run of
 * consecutive pages) and zero pages. Everything is checked before the first byte is written.
 */
export function applyPages(epoch: EpochPages, ram: Uint8Array | GuestMemory): void {
  const target = ramBytes(ram);
  checkEpochPages(epoch, Math.floor(target.length / PAGE_SIZE));
  const { pageNumbers, pageData } = epoch;
  const source = asBuffer(pageData);
  for (let i = 0; i < pageNumbers.length;) {
    let j = i + 1;
    while (j < pageNumbers.length && pageNumbers[j] === pageNumbers[j - 1] + 1) j++;
    source.copy(target, pageNumbers[i] * PAGE_SIZE, i * PAGE_SIZE, j * PAGE_SIZE);
    i = j;
  }
  const zero = epoch.zeroPages ?? new Uint32Array(0);
  for (let i = 0; i < zero.length;) {
    let j = i + 1;
    while (j < zero.length && zero[j] === zero[j - 1] + 1) j++;
    target.fill(0, zero[i] * PAGE_SIZE, (zero[j - 1] + 1) * PAGE_SIZE);
    i = j;
  }
}
