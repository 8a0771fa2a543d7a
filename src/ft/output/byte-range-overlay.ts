/**
 * The newest held contents of a disk, byte-range granular: sorted, non-overlapping
 * extents, each the latest data written there (or zeros, for a discard) and the hold
 * bucket it came from. A newer write over part of an extent trims or splits it, so a
 * byte is always described by exactly the last write that touched it.
 *
 * Extents point into the held writes' own copies (subarrays), so the overlay costs no
 * memory beyond the held data itself.
 */

export interface OverlayExtent {
  start: number;
  end: number;
  /** The hold bucket (HoldingBlockBackend) whose write this byte range is from. */
  bucket: number;
  /** The bytes [start, end), or null for a discarded range (reads as zeros). */
  data: Uint8Array | null;
}

export class ByteRangeOverlay {
  private extents: OverlayExtent[] = [];

  get extentCount(): number {
    return this.extents.length;
  }

  get isEmpty(): boolean {
    return this.extents.length === 0;
  }

  /** Records that [start, start+length) now holds `data` (null: zeros), newer than anything there. */
  put(start: number, length: number, data: Uint8Array | null, bucket: number): void {
    if (length === 0) return;
    const end = start + length;
    const first = this.firstEndingAfter(start);
    let last = first;
    const replacement: OverlayExtent[] = [];
    while (last < this.extents.length && this.extents[last].start < end) {
      const e = this.extents[last];
      if (e.start < start) replacement.push(slice(e, e.start, start));
      if (e.end > end) replacement.push(slice(e, end, e.end));
      last++;
    }
    // The left piece (if any) sorts before the new extent, the right piece after it.
    const left = replacement.filter((r) => r.end <= start);
    const right = replacement.filter((r) => r.start >= end);
    this.extents.splice(first, last - first, ...left, { start, end, bucket, data }, ...right);
  }

  /** Copies of the extents overlapping [start, end), clipped to it: a snapshot later writes cannot change. */
  overlapping(start: number, end: number): OverlayExtent[] {
    const out: OverlayExtent[] = [];
    for (let i = this.firstEndingAfter(start); i < this.extents.length && this.extents[i].start < end; i++) {
      const e = this.extents[i];
      out.push(slice(e, Math.max(e.start, start), Math.min(e.end, end)));
    }
    return out;
  }

  /** Forgets every extent from buckets <= `bucket` (their data is on the image now). */
  removeThrough(bucket: number): void {
    this.extents = this.extents.filter((e) => e.bucket > bucket);
  }

  clear(): void {
    this.extents = [];
  }

  /** Index of the first extent with end > position (extents are sorted by start and by end alike). */
  private firstEndingAfter(position: number): number {
    let lo = 0;
    let hi = this.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.extents[mid].end > position) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Writes a snapshot from overlapping() over `buffer`, which holds image bytes from `offset`. */
export function applyExtents(extents: readonly OverlayExtent[], offset: number, buffer: Uint8Array): void {
  for (const e of extents) {
    const at = e.start - offset;
    if (e.data) buffer.set(e.data, at);
    else buffer.fill(0, at, e.end - offset);
  }
}

/** Whether the snapshot covers all of [start, end) (then the image need not be read). */
export function coversRange(extents: readonly OverlayExtent[], start: number, end: number): boolean {
  let at = start;
  for (const e of extents) {
    if (at >= end) break;
    if (e.start > at) return false;
    at = Math.max(at, e.end);
  }
  return at >= end;
}

function slice(e: OverlayExtent, start: number, end: number): OverlayExtent {
  return { start, end, bucket: e.bucket, data: e.data ? e.data.subarray(start - e.start, end - e.start) : null };
}
