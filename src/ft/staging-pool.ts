/**
 * Staging buffers for the primary's pause. Copying dirty pages into a fresh buffer costs a
 * page fault per 4 KiB on first touch, 4-7× the copy itself (bench/ft-wire.ts), and that
 * cost lands inside the pause. So buffers are reused: an epoch takes one at its boundary
 * and gives it back once the channel has handed its bytes to the kernel (ChannelWriter's
 * send resolves then), which is what makes reuse safe. At most one buffer per epoch in
 * flight plus the one being filled is kept; a buffer far larger than usual (a burst) is
 * dropped on return rather than pinned for good.
 */
export class StagingPool {
  private readonly free: Buffer[] = [];

  /** `keep`: buffers kept for reuse; `maxKeptBytes`: larger ones are not kept. */
  constructor(private readonly keep: number, private readonly maxKeptBytes = 32 * 1024 * 1024) {}

  /** A buffer of at least `bytes` (its contents are garbage). */
  take(bytes: number): Buffer {
    // Smallest free buffer that fits: big ones stay for big epochs.
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].length >= bytes && (best < 0 || this.free[i].length < this.free[best].length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0];
    // Round up so a slowly growing dirty set does not allocate every epoch.
    const size = Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
    return Buffer.allocUnsafeSlow(size);
  }

  /** Back into the pool once nothing reads it any more. */
  give(buffer: Buffer): void {
    if (buffer.length > this.maxKeptBytes) return;
    this.free.push(buffer);
    if (this.free.length > this.keep) {
      // Drop the smallest: the pool converges on buffers the workload needs.
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i].length < this.free[smallest].length) smallest = i;
      this.free.splice(smallest, 1);
    }
  }

  get size(): number {
    return this.free.length;
  }
}
