/**
 * Page-aligned buffers for O_DIRECT I/O (cache=none), which rejects buffers that are not
 * aligned to the device's logical block size. They come from anonymous mmap (the addon's
 * mmapAnonymous, always page-aligned) and are pooled by power-of-two size, since a mapping
 * per request would cost two system calls.
 */
import { native } from '../kvm/native.js';

export type MapAnonymous = (length: number) => ArrayBuffer;

const MIN_CLASS = 4096;
/** Idle buffers kept per size class. */
const KEEP_PER_CLASS = 8;

export class AlignedBufferPool {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private readonly mine = new WeakSet<ArrayBuffer>();

  constructor(private readonly map: MapAnonymous = (n) => native().mmapAnonymous(n)) {}

  /** A page-aligned view of exactly `length` bytes (contents undefined). */
  acquire(length: number): Uint8Array {
    let size = MIN_CLASS;
    while (size < length) size *= 2;
    let buf = this.idle.get(size)?.pop();
    if (!buf) {
      buf = this.map(size);
      this.mine.add(buf);
    }
    return new Uint8Array(buf, 0, length);
  }

  /** Whether `view` lies in a buffer this pool mapped (and so starts page-aligned). */
  owns(view: Uint8Array): boolean {
    return this.mine.has(view.buffer as ArrayBuffer);
  }

  release(view: Uint8Array): void {
    if (!this.owns(view)) return;
    const size = view.buffer.byteLength;
    const list = this.idle.get(size) ?? [];
    // Unpooled buffers are dropped: the GC unmaps external buffers it collects.
    if (list.length < KEEP_PER_CLASS) list.push(view.buffer as ArrayBuffer);
    this.idle.set(size, list);
  }
}
