/**
 * 'shared' disk mode (the original Cuju's NFS setup): primary and backup open the same
 * image, so the primary must not let a write reach it before the write's epoch is
 * acknowledged: a failover resumes the backup from the last acknowledged epoch, and a
 * write from a later epoch already on the shared image would be a change that state
 * never made.
 *
 * So while holding, writes and discards complete at once into memory: a list of ops per
 * hold bucket (one bucket per epoch) plus a byte-range overlay of the newest held
 * contents, from which reads are served (the guest reads its own held writes, partial
 * overlaps included). releaseThrough(N) writes the buckets of epochs <= N to the image in
 * the order they were submitted, then fdatasyncs. Every op is also logged for
 * takeEpochWrites(): the writes travel in their epoch, so that if the primary dies
 * between the acknowledgement and writing them, the backup can apply them itself at
 * failover (applyDiskWrites) before resuming.
 *
 * Guest FLUSH: a completed FLUSH promises that every write completed before it is on
 * stable storage. While holding, those writes are only in the primary's memory and in
 * the epoch stream, so a FLUSH completes only once every write admitted before it has
 * been released (its epoch acknowledged), written to the image and fdatasynced. That
 * costs the flush up to about one epoch plus the acknowledgement and an fdatasync; the
 * guest's reply to a client that waited for the fsync is held that long by the network
 * gate anyway, so the round trip the client sees barely changes. (Completing it early
 * would only be safe against a single failure, not against a power loss of both hosts.)
 * The FT engine must therefore never wait for in-flight block requests at a boundary:
 * a FLUSH (or a write waiting for the memory bound) completes only after later epochs.
 *
 * Memory bound: at most maxHeldBytes of write data are held; a write beyond it waits
 * (in submission order, behind earlier waiting writes) until a release makes room. It
 * is admitted, and logged, in the epoch current when room appeared; until then the guest
 * sees it in flight, which a failover handles by re-issuing it.
 *
 * 'pass' mode (unprotected): reads and writes go straight to the image; right after
 * releaseAll(), until the held data has drained, new writes queue behind it (so they
 * cannot overtake older held writes to the same place) and complete once written.
 *
 * Split brain (output-permit.ts): in either mode, nothing is written to the shared image
 * while the output permit says no (the lease lapsed or was fenced): writes are admitted
 * and held as above (reads see them, FLUSH waits) until permitChanged(). Acknowledged
 * writes of protected mode go to the image only through the output fence (the lease
 * locked and still this VMM's), so none lands after a backup won the lease.
 */
import type { BlockBackend } from '../../block/backend.js';
import { BlockIoError } from '../../block/errors.js';
import { ByteRangeOverlay, applyExtents, coversRange } from './byte-range-overlay.js';
import { DiskWriteLog, applyOps, type DiskOp, type EpochDiskWrites } from './disk-writes.js';
import { checkEpochNumber, checkNextEpoch, checkReleasable } from './epoch-number.js';
import { OutputGateError } from './errors.js';
import { ALWAYS_PERMITTED, type OutputFence, type OutputPermit, type OutputPermitTarget } from './output-permit.js';

export type DiskGateMode = 'pass' | 'hold';

export const DEFAULT_MAX_HELD_DISK_BYTES = 256 * 1024 * 1024;
/** What a held discard is charged against the bound (its bookkeeping, not its length). */
const DISCARD_CHARGE = 64;

export interface HoldingBlockOptions {
  /** Bytes of held write data before writes wait (default 256 MiB). */
  maxHeldBytes?: number;
}

export interface DiskGateStats {
  mode: DiskGateMode;
  epoch: number;
  heldOps: number;
  heldBytes: number;
  /** Writes waiting for room under the bound. */
  waitingOps: number;
  overlayExtents: number;
  totalHeldOps: number;
  totalReleasedOps: number;
}

interface Bucket {
  /** Increasing; overlay extents name their bucket by it. */
  id: number;
  /** The epoch it belongs to; UNHELD when released by releaseAll (or filled while passing). */
  epoch: number;
  ops: DiskOp[];
  bytes: number;
  /** Being released: new ops go to a new bucket. */
  sealed: boolean;
}

interface Waiting {
  /** null: a flush's marker (it waits for the writes ahead of it to be admitted). */
  op: DiskOp | null;
  charge: number;
  admitted: () => void;
}

interface FlushWaiter {
  bucket: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const UNHELD = Number.NEGATIVE_INFINITY;

export class HoldingBlockBackend implements BlockBackend, OutputPermitTarget {
  readonly maxHeldBytes: number;
  private currentMode: DiskGateMode = 'pass';
  private epoch = -1;
  private releasedThrough = Number.POSITIVE_INFINITY;
  private buckets: Bucket[] = [];
  private nextBucketId = 0;
  private readonly overlay = new ByteRangeOverlay();
  private readonly log = new DiskWriteLog();
  private heldOps = 0;
  private heldBytes = 0;
  private waiting: Waiting[] = [];
  private flushWaiters: FlushWaiter[] = [];
  private passChain: Promise<void> = Promise.resolve();
  private totals = { heldOps: 0, releasedOps: 0 };
  private permit: OutputPermit = ALWAYS_PERMITTED;
  private fence?: OutputFence;

  constructor(private readonly inner: BlockBackend, options: HoldingBlockOptions = {}) {
    const max = options.maxHeldBytes ?? DEFAULT_MAX_HELD_DISK_BYTES;
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`maxHeldBytes must be a positive integer, got ${max}`);
    this.maxHeldBytes = max;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get readonly(): boolean {
    return this.inner.readonly;
  }

  get canDiscard(): boolean {
    return this.inner.canDiscard;
  }

  get mode(): DiskGateMode {
    return this.currentMode;
  }

  /** Protection starts: writes from now on belong to `epoch` and stay off the image until it is acknowledged. */
  startHolding(epoch: number): void {
    checkEpochNumber(epoch, 'startHolding');
    if (this.currentMode === 'hold') throw new OutputGateError('startHolding: the disk gate is already holding: call releaseAll() first');
    this.currentMode = 'hold';
    this.epoch = epoch;
    this.releasedThrough = epoch - 1; // leftovers from passing are UNHELD and keep draining
  }

  /** An epoch boundary: writes from now on belong to `epoch`. */
  beginEpoch(epoch: number): void {
    if (this.currentMode !== 'hold') throw new OutputGateError(`beginEpoch(${epoch}): the disk gate is not holding: call startHolding() first`);
    checkNextEpoch(this.epoch, epoch, 'beginEpoch');
    this.epoch = epoch;
  }

  /** Epochs <= `epoch` are acknowledged: their writes go to the image, then fdatasync. Rejects with the image's error. */
  releaseThrough(epoch: number): Promise<void> {
    if (this.currentMode === 'hold') {
      checkReleasable(this.epoch, epoch, 'releaseThrough');
      if (epoch > this.releasedThrough) this.releasedThrough = epoch;
    } else {
      checkEpochNumber(epoch, 'releaseThrough');
    }
    return this.schedulePass();
  }

  /** Protection ended: everything held goes to the image, and writes pass from now on. */
  releaseAll(): Promise<void> {
    this.currentMode = 'pass';
    this.releasedThrough = Number.POSITIVE_INFINITY;
    for (const b of this.buckets) b.epoch = UNHELD;
    this.log.clear();
    return this.schedulePass();
  }

  setOutputPermit(permit: OutputPermit): void {
    this.permit = permit;
  }

  setOutputFence(fence: OutputFence): void {
    this.fence = fence;
  }

  /** Held data the permit kept back may go now (errors: the next release or flush retries). */
  permitChanged(): void {
    if (this.buckets.length > 0 && this.permit(this.currentMode === 'hold')) this.schedulePass().catch(() => {});
  }

  /** Writes and discards admitted since the last call, in order, for the epoch being sent; clears them. */
  takeEpochWrites(): EpochDiskWrites {
    return this.log.take();
  }

  holdStats(): DiskGateStats {
    return {
      mode: this.currentMode,
      epoch: this.epoch,
      heldOps: this.heldOps,
      heldBytes: this.heldBytes,
      waitingOps: this.waiting.filter((w) => w.op).length,
      overlayExtents: this.overlay.extentCount,
      totalHeldOps: this.totals.heldOps,
      totalReleasedOps: this.totals.releasedOps,
    };
  }

  acquire(length: number): Uint8Array {
    return this.inner.acquire(length);
  }

  release(buffer: Uint8Array): void {
    this.inner.release(buffer);
  }

  async read(offset: number, buffer: Uint8Array): Promise<void> {
    if (this.overlay.isEmpty) return this.inner.read(offset, buffer);
    const end = offset + buffer.byteLength;
    this.check(offset, buffer.byteLength, 'read');
    // Snapshot first: a release finishing during the image read removes extents whose
    // data the read may or may not have seen on the image; the snapshot has it either way.
    const held = this.overlay.overlapping(offset, end);
    if (!coversRange(held, offset, end)) await this.inner.read(offset, buffer);
    applyExtents(held, offset, buffer);
  }

  async write(offset: number, buffer: Uint8Array): Promise<void> {
    this.checkWritable(offset, buffer.byteLength, 'write');
    if (this.passingThrough()) return this.inner.write(offset, buffer);
    await this.admit({ kind: 'write', offset, data: buffer.slice() });
    if (this.currentMode === 'pass') await this.schedulePass();
  }

  async discard(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length, 'discard');
    if (!this.inner.canDiscard) throw new BlockIoError('discard refused: the image cannot deallocate');
    if (this.passingThrough()) return this.inner.discard(offset, length);
    await this.admit({ kind: 'discard', offset, length });
    if (this.currentMode === 'pass') await this.schedulePass();
  }

  /** See the header: completes once every write before it is released and fdatasynced. */
  async flush(): Promise<void> {
    if (this.waiting.length > 0) await new Promise<void>((admitted) => this.waiting.push({ op: null, charge: 0, admitted }));
    const target = this.lastHeldBucket();
    if (target === undefined) return this.inner.flush();
    const durable = new Promise<void>((resolve, reject) => this.flushWaiters.push({ bucket: target, resolve, reject }));
    // Passing (draining after releaseAll) nobody else may schedule the pass that covers it.
    if (this.currentMode === 'pass') this.schedulePass().catch(() => {});
    return durable;
  }

  /**
   * Closes the image. Writes still held are dropped: their epochs were never
   * acknowledged, so they must not reach the shared image (call releaseAll() first to
   * keep them).
   */
  async close(): Promise<void> {
    await this.passChain;
    return this.inner.close();
  }

  private passingThrough(): boolean {
    return this.currentMode === 'pass' && this.heldOps === 0 && this.waiting.length === 0 && this.permit(false);
  }

  private admit(op: DiskOp): Promise<void> | void {
    const charge = op.kind === 'write' ? op.data.byteLength : DISCARD_CHARGE;
    if (this.waiting.length === 0 && this.fits(charge)) {
      this.admitNow(op, charge);
      return;
    }
    return new Promise((admitted) => this.waiting.push({ op, charge, admitted }));
  }

  private fits(charge: number): boolean {
    return this.heldBytes === 0 || this.heldBytes + charge <= this.maxHeldBytes;
  }

  private admitNow(op: DiskOp, charge: number): void {
    const bucket = this.currentBucket();
    bucket.ops.push(op);
    bucket.bytes += charge;
    this.heldOps++;
    this.heldBytes += charge;
    this.totals.heldOps++;
    if (op.kind === 'write') this.overlay.put(op.offset, op.data.byteLength, op.data, bucket.id);
    else this.overlay.put(op.offset, op.length, null, bucket.id);
    if (this.currentMode === 'hold') this.log.record(op);
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].charge)) {
      const w = this.waiting.shift() as Waiting;
      if (w.op) this.admitNow(w.op, w.charge);
      w.admitted();
    }
  }

  private currentBucket(): Bucket {
    const tag = this.currentMode === 'hold' ? this.epoch : UNHELD;
    const last = this.buckets[this.buckets.length - 1];
    if (last && !last.sealed && last.epoch === tag) return last;
    const bucket: Bucket = { id: this.nextBucketId++, epoch: tag, ops: [], bytes: 0, sealed: false };
    this.buckets.push(bucket);
    return bucket;
  }

  private lastHeldBucket(): number | undefined {
    for (let i = this.buckets.length - 1; i >= 0; i--) if (this.buckets[i].ops.length > 0) return this.buckets[i].id;
    return undefined;
  }

  /** Passes run one after another; each releases whatever is releasable when it runs. */
  private schedulePass(): Promise<void> {
    const run = this.passChain.then(() => this.releasePass());
    this.passChain = run.catch(() => {});
    return run;
  }

  private async releasePass(): Promise<void> {
    let lastReleased: number | undefined;
    const releasable = () => this.buckets.length > 0 && this.buckets[0].epoch <= this.releasedThrough && this.permit(this.currentMode === 'hold');
    const write = async () => {
      while (releasable()) {
        const bucket = this.buckets[0];
        bucket.sealed = true;
        await applyOps(this.inner, bucket.ops);
        // Only now may reads go to the image for these bytes.
        this.buckets.shift();
        this.overlay.removeThrough(bucket.id);
        this.heldOps -= bucket.ops.length;
        this.heldBytes -= bucket.bytes;
        this.totals.releasedOps += bucket.ops.length;
        lastReleased = bucket.id;
        this.admitWaiting();
      }
      if (lastReleased !== undefined) await this.inner.flush();
    };
    try {
      // Acknowledged writes of protected mode go out only through the split-brain fence (output-permit.ts).
      if (this.fence && this.currentMode === 'hold' && releasable()) {
        if (!(await this.fence(write))) return; // fenced: they never reach the image
      } else {
        await write();
      }
      if (lastReleased === undefined) return;
    } catch (e) {
      // The guest's FLUSHes cannot be honoured; the held data stays and the next pass retries.
      this.failFlushes(e as Error);
      throw e;
    }
    const durable = lastReleased;
    this.flushWaiters = this.flushWaiters.filter((w) => {
      if (w.bucket <= durable) w.resolve();
      return w.bucket > durable;
    });
  }

  private failFlushes(e: Error): void {
    const error = e instanceof BlockIoError ? e : new BlockIoError(`writing held data to the image failed: ${e.message}`);
    for (const w of this.flushWaiters.splice(0)) w.reject(error);
  }

  private check(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.inner.sizeBytes) {
      throw new BlockIoError(`${what} ${offset}+${length} is outside the ${this.inner.sizeBytes}-byte image`);
    }
  }

  private checkWritable(offset: number, length: number, what: string): void {
    if (this.inner.readonly) throw new BlockIoError(`${what} refused: the image is read-only`);
    this.check(offset, length, what);
  }
}
