/**
 * A set of page numbers 0..pageCount-1 as a bitmap: one bit per page, LSB first,
 * in 32-bit words. The word count is rounded up to whole 64-bit words so the layout
 * matches KVM's dirty bitmap (little-endian `unsigned long`s) word for word, and a
 * KVM bitmap can be merged with a plain copy or OR. A 1 GiB slot is 32 KiB of bitmap.
 */
export class PageBitmap {
  readonly words: Uint32Array;

  constructor(readonly pageCount: number) {
    if (!Number.isSafeInteger(pageCount) || pageCount < 0 || pageCount > 0xffffffff) {
      throw new RangeError(`page bitmap size must be 0..2^32-1 pages, got ${pageCount}`);
    }
    this.words = new Uint32Array(Math.ceil(pageCount / 64) * 2);
  }

  static fromPages(pageCount: number, pages: Iterable<number>): PageBitmap {
    const b = new PageBitmap(pageCount);
    for (const p of pages) b.set(p);
    return b;
  }

  private check(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pageCount) {
      throw new RangeError(`page ${page} outside bitmap of ${this.pageCount} pages`);
    }
  }

  set(page: number): void {
    this.check(page);
    this.words[page >>> 5] |= 1 << (page & 31);
  }

  has(page: number): boolean {
    if (!Number.isInteger(page) || page < 0 || page >= this.pageCount) return false;
    return (this.words[page >>> 5] & (1 << (page & 31))) !== 0;
  }

  /** Sets pages first..first+count-1, whole words at a time in the middle. */
  setRange(first: number, count: number): void {
    if (count <= 0) return;
    this.check(first);
    this.check(first + count - 1);
    const end = first + count; // exclusive
    const w = this.words;
    const firstWord = first >>> 5;
    const lastWord = (end - 1) >>> 5;
    const headMask = (0xffffffff << (first & 31)) >>> 0;
    const tailMask = 0xffffffff >>> (31 - ((end - 1) & 31));
    if (firstWord === lastWord) {
      w[firstWord] |= headMask & tailMask;
      return;
    }
    w[firstWord] |= headMask;
    w.fill(0xffffffff, firstWord + 1, lastWord);
    w[lastWord] |= tailMask;
  }

  setAll(): void {
    this.clear();
    if (this.pageCount > 0) this.setRange(0, this.pageCount);
  }

  clear(): void {
    this.words.fill(0);
  }

  /**
   * ORs in words of the same layout (another PageBitmap's, or KVM's bitmap as
   * 32-bit words). Bits past pageCount are dropped, so the set stays within range.
   */
  /** A new bitmap with the pages of both. */
  union(other: PageBitmap): PageBitmap {
    const u = new PageBitmap(this.pageCount);
    u.orWords(this.words);
    u.orWords(other.words);
    return u;
  }

  orWords(other: Uint32Array): void {
    if (other.length !== this.words.length) {
      throw new RangeError(`bitmap of ${other.length} words cannot merge into one of ${this.words.length}`);
    }
    const w = this.words;
    for (let i = 0; i < w.length; i++) w[i] |= other[i];
    this.maskTail();
  }

  private maskTail(): void {
    const used = Math.ceil(this.pageCount / 32);
    const tail = this.pageCount & 31;
    if (tail) this.words[used - 1] &= (1 << tail) - 1;
    if (used < this.words.length) this.words.fill(0, used);
  }

  isEmpty(): boolean {
    const w = this.words;
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }

  /** Number of pages in the set. */
  count(): number {
    const w = this.words;
    let n = 0;
    for (let i = 0; i < w.length; i++) {
      let v = w[i];
      if (v === 0) continue;
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return n;
  }

  /** Number of pages in this set or in `other` (words of a bitmap of the same layout), without changing either. */
  countUnion(other: Uint32Array): number {
    const w = this.words;
    if (other.length < w.length) throw new RangeError(`countUnion needs ${w.length} words, got ${other.length}`);
    let n = 0;
    for (let i = 0; i < w.length; i++) {
      let v = w[i] | other[i];
      if (v === 0) continue;
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return n;
  }

  /** The page numbers, ascending. */
  pages(): Uint32Array {
    const out = new Uint32Array(this.count());
    let k = 0;
    const w = this.words;
    for (let i = 0; i < w.length; i++) {
      let v = w[i];
      while (v !== 0) {
        const low = v & -v;
        out[k++] = i * 32 + (31 - Math.clz32(low));
        v ^= low;
      }
    }
    return out;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    const w = this.words;
    for (let i = 0; i < w.length; i++) {
      let v = w[i];
      while (v !== 0) {
        const low = v & -v;
        yield i * 32 + (31 - Math.clz32(low));
        v ^= low;
      }
    }
  }
}
