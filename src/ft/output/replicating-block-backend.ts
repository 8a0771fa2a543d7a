/**
 * 'replicated' disk mode (the default): primary and backup each have their own copy of
 * the image. The primary writes its copy as usual and records a copy of every write and
 * discard; the FT engine takes the record during the pause at each boundary
 * (takeEpochWrites), it travels with that epoch, and the backup applies it at commit
 * (applyDiskWrites). No shared storage, and nothing to hold: what the guest believes is
 * on disk at epoch N's boundary is on the backup's copy once N is committed.
 *
 * Recorded at SUBMISSION, not completion. A write started in epoch N and completing in
 * N+1 therefore travels in N. That is safe:
 * - The guest learns a write completed only through the used ring and status byte in
 *   RAM. If completion happened in N+1, N's RAM still shows the request in flight, and
 *   N's virtio-blk state lists its head; after a failover to N the device re-issues it
 *   from the restored ring with the same data (the driver may not touch a buffer it
 *   has handed over). So the backup ends up with the write whichever way.
 * - Having it on the backup's image a little early is invisible: until completion the
 *   guest may not assume either the old or the new contents of that range.
 * - virtio-blk calls write() in the same turn as it pops the request off the ring, so
 *   the requests recorded by a boundary are exactly those N's ring state shows taken.
 * - At submission the data is at hand (the device copied it out of guest RAM and frees
 *   the buffer at completion), and every write the guest could have seen complete by
 *   N's boundary was submitted by then: recording at completion would need the same
 *   data later and gain nothing.
 *
 * Overlapping requests in flight together are issued to the image one after the other,
 * in submission order. The guest must not depend on the order of overlapping
 * concurrent writes, but the two images must still agree: the backup replays in
 * submission order, so the primary's image has to end up the same way.
 *
 * FLUSH passes straight through: it makes the primary's own copy durable. The backup's
 * copy holds a write once its epoch is committed, and anything the outside world could
 * learn about a completed flush (a reply to a client) is held by the network gate until
 * that epoch is acknowledged.
 *
 * A write that fails locally stays recorded: the guest gets an I/O error for it, after
 * which the contents of that range are undefined for it anyway.
 */
import type { BlockBackend } from '../../block/backend.js';
import { BlockIoError } from '../../block/errors.js';
import { DiskWriteLog, type DiskOp, type EpochDiskWrites } from './disk-writes.js';

interface InFlightRange {
  start: number;
  end: number;
  done: Promise<unknown>;
}

export class ReplicatingBlockBackend implements BlockBackend {
  private readonly log = new DiskWriteLog();
  private isRecording = false;
  private readonly inFlight = new Set<InFlightRange>();

  constructor(private readonly inner: BlockBackend) {}

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get readonly(): boolean {
    return this.inner.readonly;
  }

  get canDiscard(): boolean {
    return this.inner.canDiscard;
  }

  get recording(): boolean {
    return this.isRecording;
  }

  /** Protection starts: from now on writes and discards are recorded. */
  startRecording(): void {
    this.isRecording = true;
  }

  /** Protection ended: stop recording and forget what was not taken. */
  stopRecording(): void {
    this.isRecording = false;
    this.log.clear();
  }

  /** What was submitted since the last call (the epoch that is ending); clears it. */
  takeEpochWrites(): EpochDiskWrites {
    return this.log.take();
  }

  /**
   * Resolves once every request in flight right now has settled. The initial disk copy
   * calls it after recording started: requests submitted before that are in no epoch,
   * so their result must be on the image before the copy reads it.
   */
  async inFlightSettled(): Promise<void> {
    await Promise.allSettled([...this.inFlight].map((r) => r.done));
  }

  /** Bytes and ops recorded and not yet taken (for `info ft`). */
  pendingStats(): { ops: number; bytes: number } {
    return { ops: this.log.recordedOps, bytes: this.log.recordedBytes };
  }

  acquire(length: number): Uint8Array {
    return this.inner.acquire(length);
  }

  release(buffer: Uint8Array): void {
    this.inner.release(buffer);
  }

  read(offset: number, buffer: Uint8Array): Promise<void> {
    return this.inner.read(offset, buffer);
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    this.check(offset, buffer.byteLength, 'write');
    this.record({ kind: 'write', offset, data: buffer.slice() });
    await this.inOrder(offset, buffer.byteLength, () => this.inner.write(offset, buffer));
  }

  async discard(offset: number, length: number): Promise<void> {
    this.check(offset, length, 'discard');
    this.record({ kind: 'discard', offset, length });
    await this.inOrder(offset, length, () => this.inner.discard(offset, length));
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private record(op: DiskOp): void {
    if (this.isRecording) this.log.record(op);
  }

  /** Refuses up front what the image would refuse, so nothing unappliable is recorded. */
  private check(offset: number, length: number, what: string): void {
    if (this.inner.readonly) throw new BlockIoError(`${what} refused: the image is read-only`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.inner.sizeBytes) {
      throw new BlockIoError(`${what} ${offset}+${length} is outside the ${this.inner.sizeBytes}-byte image`);
    }
  }

  /** Starts `io` once every earlier request overlapping [offset, offset+length) has settled. */
  private async inOrder(offset: number, length: number, io: () => Promise<void>): Promise<void> {
    const end = offset + length;
    const earlier: Promise<unknown>[] = [];
    for (const r of this.inFlight) if (r.start < end && offset < r.end) earlier.push(r.done);
    const done = earlier.length === 0 ? io() : Promise.allSettled(earlier).then(io);
    const entry: InFlightRange = { start: offset, end, done };
    this.inFlight.add(entry);
    try {
      await done;
    } finally {
      this.inFlight.delete(entry);
    }
  }
}
