/**
 * Epoch pages as the run table travels: runs of consecutive page numbers, each either
 * data (its bytes follow the table, in run order) or zero (no bytes). Pages whose staged
 * copy is all zero become zero runs, so a guest freeing memory costs no bandwidth.
 */
import { FtWireError } from './errors.js';
import { PAGE_SIZE } from './format.js';
import type { EpochPages } from './messages.js';

export interface PageRun {
  first: number;
  count: number;
  zero: boolean;
}

export interface EncodedPages {
  runs: PageRun[];
  /** Byte ranges of pageData to send, in order (adjacent data pages share one range). */
  data: Uint8Array[];
  dataPages: number;
}

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

function checkAscending(pages: Uint32Array, what: string): void {
  for (let i = 1; i < pages.length; i++) {
    if (pages[i] <= pages[i - 1]) throw new RangeError(`${what} must be strictly ascending (${pages[i]} after ${pages[i - 1]})`);
  }
}

/** Checks the shape of an epoch's pages (the caller's bug if wrong, so RangeError) and that they fit in RAM. */
export function checkEpochPages(p: EpochPages, ramPages: number): void {
  if (p.pageData.length !== p.pageNumbers.length * PAGE_SIZE) {
    throw new RangeError(`pageData holds ${p.pageData.length} bytes, ${p.pageNumbers.length} pages need ${p.pageNumbers.length * PAGE_SIZE}`);
  }
  checkAscending(p.pageNumbers, 'pageNumbers');
  const zero = p.zeroPages ?? new Uint32Array(0);
  checkAscending(zero, 'zeroPages');
  const last = Math.max(p.pageNumbers.at(-1) ?? -1, zero.at(-1) ?? -1);
  if (last >= ramPages) throw new RangeError(`page ${last} is outside guest RAM (${ramPages} pages)`);
  for (let d = 0, z = 0; d < p.pageNumbers.length && z < zero.length;) {
    if (p.pageNumbers[d] === zero[z]) throw new RangeError(`page ${zero[z]} is in both pageNumbers and zeroPages`);
    if (p.pageNumbers[d] < zero[z]) d++;
    else z++;
  }
}

/** The run table and data ranges for `p` (already checked with checkEpochPages: ascending, disjoint). */
export function encodePageRuns(p: EpochPages): EncodedPages {
  const data = Buffer.from(p.pageData.buffer, p.pageData.byteOffset, p.pageData.byteLength);
  const zeroList = p.zeroPages ?? new Uint32Array(0);
  const runs: PageRun[] = [];
  const ranges: Uint8Array[] = [];
  let rangeStart = -1;
  let dataPages = 0;
  const endRange = (end: number) => {
    if (rangeStart >= 0) ranges.push(p.pageData.subarray(rangeStart, end));
    rangeStart = -1;
  };
  const add = (page: number, zero: boolean) => {
    const run = runs.at(-1);
    if (run && run.zero === zero && run.first + run.count === page) run.count++;
    else runs.push({ first: page, count: 1, zero });
  };
  let d = 0;
  let z = 0;
  while (d < p.pageNumbers.length || z < zeroList.length) {
    if (d === p.pageNumbers.length || (z < zeroList.length && zeroList[z] < p.pageNumbers[d])) {
      add(zeroList[z++], true);
      continue;
    }
    const offset = d * PAGE_SIZE;
    // memcmp against a zero page; stops at the first non-zero byte, so content pages cost little.
    const zero = ZERO_PAGE.compare(data, offset, offset + PAGE_SIZE) === 0;
    add(p.pageNumbers[d++], zero);
    if (zero) endRange(offset);
    else {
      if (rangeStart < 0) rangeStart = offset;
      dataPages++;
    }
  }
  endRange(p.pageNumbers.length * PAGE_SIZE);
  return { runs, data: ranges, dataPages };
}

/**
 * Expands a checked run table into the page lists of a decoded epoch. Runs must ascend
 * without overlap and lie inside RAM; `where` names the message for errors.
 */
export function decodeRunTable(table: Buffer, runCount: number, ramPages: number, where: string): { runs: PageRun[]; dataPages: number; zeroPages: number } {
  const runs: PageRun[] = [];
  let next = 0;
  let dataPages = 0;
  let zeroPages = 0;
  for (let i = 0; i < runCount; i++) {
    const first = table.readUInt32LE(i * 8);
    const raw = table.readUInt32LE(i * 8 + 4);
    const zero = (raw & 0x8000_0000) !== 0;
    const count = raw & 0x7fff_ffff;
    if (count === 0) throw new FtWireError(`${where}: page run ${i} is empty`);
    if (first < next) throw new FtWireError(`${where}: page run ${i} starts at page ${first}, before the end of the previous run (${next}): runs must ascend`);
    if (first + count > ramPages) throw new FtWireError(`${where}: page run ${i} covers pages ${first}..${first + count - 1}, outside guest RAM (${ramPages} pages)`);
    next = first + count;
    if (zero) zeroPages += count;
    else dataPages += count;
    runs.push({ first, count, zero });
  }
  return { runs, dataPages, zeroPages };
}

/** The page number lists of decoded runs. */
export function expandRuns(runs: PageRun[], dataPages: number, zeroPages: number): { pageNumbers: Uint32Array; zeroPages: Uint32Array } {
  const data = new Uint32Array(dataPages);
  const zero = new Uint32Array(zeroPages);
  let d = 0;
  let z = 0;
  for (const r of runs) {
    for (let i = 0; i < r.count; i++) {
      if (r.zero) zero[z++] = r.first + i;
      else data[d++] = r.first + i;
    }
  }
  return { pageNumbers: data, zeroPages: zero };
}
