/**
 * Which pages of guest RAM go into memory sections, grouped into runs of at most
 * MAX_PAGES_PER_RUN contiguous pages. A full pass skips zero pages (a restore target's
 * RAM starts zeroed); a dirty-page pass sends zero pages as zero runs without bytes.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { MAX_PAGES_PER_RUN, PAGE_SIZE, PageEncoding } from './format.js';

export interface MemoryRun {
  gpa: number;
  pages: number;
  encoding: PageEncoding;
}

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

function isZeroPage(bytes: Uint8Array, offset: number): boolean {
  // Buffer.equals is a memcmp: far faster than a JS loop over 4096 bytes.
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, PAGE_SIZE).equals(ZERO_PAGE);
}

/** Every non-zero page of RAM, in address order. */
export function* nonZeroRuns(mem: GuestMemory): Generator<MemoryRun> {
  for (const region of mem.regions) {
    const pages = Math.floor(region.size / PAGE_SIZE);
    let start = -1;
    for (let p = 0; p <= pages; p++) {
      const data = p < pages && !isZeroPage(region.bytes, p * PAGE_SIZE);
      if (data && start < 0) start = p;
      if (start >= 0 && (!data || p - start === MAX_PAGES_PER_RUN)) {
        yield { gpa: region.gpa + start * PAGE_SIZE, pages: p - start, encoding: PageEncoding.Data };
        start = data ? p : -1;
      }
    }
  }
}

/**
 * The given guest page frame numbers (ascending, no duplicates), as runs of equal
 * encoding: bytes for pages with content, zero runs for pages that are all zero now.
 */
export function* dirtyPageRuns(mem: GuestMemory, pageNumbers: Iterable<number>): Generator<MemoryRun> {
  let run: MemoryRun | undefined;
  let last = -1;
  for (const pfn of pageNumbers) {
    if (pfn <= last) throw new RangeError(`dirty page numbers must ascend (${pfn} after ${last})`);
    last = pfn;
    const gpa = pfn * PAGE_SIZE;
    const encoding = isZeroPage(mem.view(gpa, PAGE_SIZE), 0) ? PageEncoding.Zero : PageEncoding.Data;
    if (run && run.encoding === encoding && run.gpa + run.pages * PAGE_SIZE === gpa && run.pages < MAX_PAGES_PER_RUN) {
      run.pages++;
      continue;
    }
    if (run) yield run;
    run = { gpa, pages: 1, encoding };
  }
  if (run) yield run;
}
