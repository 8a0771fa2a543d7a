/**
 * The primary's epoch loop. Every epoch (default 5 ms of wall time while the VM runs)
 * the vCPUs are parked, the dirty set is harvested and its pages copied into a staging
 * buffer, vCPU/VM/device state is captured, output produced from here on is tagged
 * with the next epoch, and the vCPUs run again: the pause is only that. The epoch is
 * then sent while the guest runs the next one (pipelined: up to MAX_IN_FLIGHT epochs
 * unacknowledged). An acknowledgement of epoch N releases the output held for epochs
 * up to N. Copying during the pause is what makes the content of epoch N exactly guest
 * memory at N's boundary, even for pages the guest rewrites while N is on the wire.
 */
import { EventEmitter } from 'node:events';
import { captureVcpuState } from '../kvm/state/vcpu-state.js';
import { captureVmState } from '../kvm/state/vm-state.js';
import type { DirtyPageTracker } from '../migration/migratable.js';
import type { DiskOp, EpochContent, FtPrimaryMachine, OutputCommit } from './epoch.js';
import { EpochClock } from './epoch-clock.js';
import { StagingPool } from './staging-pool.js';
import type { FtStats } from './status.js';
import { stagePages, type VerifyRequest, type VerifyResult } from './wire/index.js';
import type { PrimaryVerifier, VerifyCapture } from './verify/primary-verifier.js';

/** Unacknowledged epochs allowed before the next boundary waits (the guest runs on meanwhile). */
export const MAX_IN_FLIGHT = 4;

export interface PrimaryChannel {
  /** Queues the epoch on the connection in order; resolves when the socket took it. */
  sendEpoch(epoch: EpochContent): Promise<void>;
  /**
   * Sends CANCEL after the queued epochs and resolves once the backup has read it and hung
   * up (or after a bound); the connection is closed then, without calling onClose listeners.
   */
  sendCancel(reason: string): Promise<void>;
  onAck(listener: (epoch: number) => void): void;
  /** FT verify mode (optional: channels without verify support): queued in order like epochs. */
  sendVerify?(request: VerifyRequest): Promise<void>;
  onVerifyResult?(listener: (result: VerifyResult) => void): void;
  /** The connection ended or broke (after close() too). */
  onClose(listener: (why: string) => void): void;
  close(): void;
}

export class FtPrimary extends EventEmitter {
  private readonly clock: EpochClock;
  /** One staging buffer per epoch in flight plus the one being filled. */
  private readonly staging = new StagingPool(MAX_IN_FLIGHT + 1);
  /** The pool buffer each epoch's pageData is a view of. */
  private readonly stagedIn = new WeakMap<EpochContent, Buffer>();
  private epoch = 0;
  private acked = 0;
  private released = 0;
  private stopped = false;
  /** cuju-migrate-cancel is draining the epochs already taken: take no more (none may follow the CANCEL). */
  private cancelling = false;
  private sending: Promise<void> = Promise.resolve();
  private boundaryRunning = false;
  /** FT verify mode: set by the controller when verification is configured. */
  verifier?: PrimaryVerifier;
  /** What the log says happens to held output when protection ends (a split-brain lease delays it until won). */
  heldOutputNote = 'its held output was released';
  /** The RAM snapshot of an epoch being verified (taken in its pause). */
  private readonly verifyCaptures = new WeakMap<EpochContent, VerifyCapture>();

  constructor(
    private readonly machine: FtPrimaryMachine,
    private readonly tracker: DirtyPageTracker,
    private readonly channel: PrimaryChannel,
    private readonly output: OutputCommit,
    private readonly stats: FtStats,
    private readonly log: (line: string) => void,
  ) {
    super();
    this.clock = new EpochClock({
      epochUs: () => this.stats.epochUs,
      watermarkPages: () => this.stats.watermarkPages,
      peekDirty: () => tracker.peekCount?.(),
      onDue: (early) => void this.boundary(early),
    });
    channel.onAck((n) => this.onAck(n));
    channel.onVerifyResult?.((r) => {
      if (!this.stopped && this.verifier && !this.verifier.result(r)) this.end('unprotected', `the backup reported verifying epoch ${r.epoch}, which was never sent for verification`);
    });
    channel.onClose((why) => this.end('unprotected', `backup lost: ${why}`));
  }

  /**
   * Starts protecting: epoch 0 was the initial synchronisation, so output from now on
   * belongs to epoch 1. Call with the vCPUs parked at the sync point, just before they run.
   */
  start(): void {
    this.stats.role = 'primary';
    this.stats.state = 'protected';
    this.output.beginEpoch(1);
    this.schedule();
  }

  setEpochUs(us: number): void {
    this.stats.epochUs = us;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.clock.arm();
  }

  private async boundary(early = false): Promise<void> {
    if (this.stopped || this.cancelling || this.boundaryRunning) return;
    this.boundaryRunning = true;
    try {
      // Pipelining is bounded: with too many epochs unacknowledged the guest runs on and
      // this epoch simply grows (its dirty set is never cut short).
      if (this.epoch - this.acked >= MAX_IN_FLIGHT) return;
      let content: EpochContent | undefined;
      try {
        content = await this.takeEpoch();
      } catch (e) {
        // The harvested dirty set is gone with the failed epoch: the backup can no longer
        // be brought up to date, so protection ends (the guest was resumed, it runs on).
        this.end('unprotected', `epoch ${this.epoch + 1} could not be taken: ${(e as Error).message}`);
        return;
      }
      // A cancel that began meanwhile already took its place in the send queue: nothing may follow CANCEL.
      if (!content || this.cancelling) {
        if (content) this.giveBack(content);
        return;
      }
      if (early) this.stats.earlyEpochs++;
      this.stats.totalBytes += content.pageData.length;
      this.sending = this.sending
        .then(() => this.channel.sendEpoch(content))
        // Handed to the kernel (or failed): nothing reads the staged pages any more.
        .then(() => this.giveBack(content), (e: Error) => this.end('unprotected', `backup lost: ${e.message}`));
      const capture = this.verifyCaptures.get(content);
      // Directly after its EPOCH, before the next one: the backup hashes exactly this epoch's state.
      if (capture) this.sending = this.sending.then(() => this.sendVerify(capture));
    } finally {
      this.boundaryRunning = false;
      this.schedule();
    }
  }

  /** The pause: everything here happens with the vCPUs parked. */
  private async takeEpoch(): Promise<EpochContent | undefined> {
    const t0 = process.hrtime.bigint();
    const src = await this.machine.parkForEpoch();
    if (!src) return undefined;
    // Protection may have ended (backup lost, cancel) while the vCPUs were being parked:
    // the tracker is stopped then, and there is no epoch to take.
    if (this.stopped || this.cancelling) {
      this.machine.resumeAfterEpoch();
      return undefined;
    }
    let content: EpochContent;
    try {
      const dirty = this.tracker.harvest();
      const buffer = this.staging.take(dirty.count() * 4096);
      const { pageNumbers, pageData } = stagePages(this.machine.memory, dirty, buffer);
      const vcpus = src.vcpuFds.map((fd) => captureVcpuState(fd, src.support));
      const vm = captureVmState(src.vm, src.support.capabilities);
      const devices = src.machine.devices.map((d, i) => src.deviceState(i, d));
      const disk = this.output.takeDiskWrites();
      this.epoch++;
      this.output.beginEpoch(this.epoch + 1);
      // Coalesced per disk (non-overlapping ranges), so their order does not matter.
      const diskOps: DiskOp[] = [
        ...disk.discards.map((d) => ({ kind: 'discard' as const, ...d })),
        ...disk.writes.map((w) => ({ kind: 'write' as const, ...w })),
      ];
      content = { epoch: this.epoch, pageNumbers, pageData, vcpus, vm, devices, diskOps, releasedEpoch: this.released };
      this.stagedIn.set(content, buffer);
      const capture = this.verifier?.captureIfDue(this.epoch, this.machine.memory, devices);
      if (capture) this.verifyCaptures.set(content, capture);
    } finally {
      this.machine.resumeAfterEpoch();
    }
    const pauseUs = Number(process.hrtime.bigint() - t0) / 1000;
    this.stats.pauseUs.add(pauseUs);
    this.stats.epoch = this.epoch;
    this.stats.totalEpochs++;
    this.stats.lastEpochDirtyPages = content.pageNumbers.length;
    this.stats.lastEpochBytes = content.pageData.length;
    this.stats.epochsInFlight = this.epoch - this.acked;
    this.updateHeld();
    return content;
  }

  /** Off the pause: hashes the snapshot (the guest runs meanwhile) and sends the VERIFY. */
  private async sendVerify(capture: VerifyCapture): Promise<void> {
    if (this.stopped || !this.verifier || !this.channel.sendVerify) return;
    try {
      const request = await this.verifier.request(capture);
      if (!this.stopped) await this.channel.sendVerify(request);
    } catch (e) {
      this.end('unprotected', `backup lost: ${(e as Error).message}`);
    }
  }

  private giveBack(content: EpochContent): void {
    const buffer = this.stagedIn.get(content);
    if (buffer) this.staging.give(buffer);
    this.stagedIn.delete(content);
  }

  private onAck(n: number): void {
    if (this.stopped || n <= this.acked) return;
    if (n > this.epoch) {
      this.end('unprotected', `the backup acknowledged epoch ${n}, which was never sent`);
      return;
    }
    this.acked = n;
    this.stats.ackedEpoch = n;
    this.stats.epochsInFlight = this.epoch - n;
    void Promise.resolve(this.output.release(n)).then(() => {
      this.released = Math.max(this.released, n);
      this.updateHeld();
    });
  }

  private updateHeld(): void {
    const h = this.output.held();
    this.stats.heldPackets = h.packets;
    this.stats.heldBytes = h.bytes;
    this.stats.heldWrites = h.writes;
    for (const ms of this.output.takeHoldTimes?.() ?? []) this.stats.packetHoldMs.add(ms);
  }

  /** cuju-migrate-cancel: the backup is told to exit; this VM runs on unprotected. */
  async cancel(reason = 'protection cancelled on the primary'): Promise<void> {
    if (this.stopped || this.cancelling) return;
    this.cancelling = true;
    this.clock.cancel();
    await this.sending;
    await this.channel.sendCancel(reason).catch(() => {});
    this.end('off', reason);
  }

  private end(state: 'off' | 'unprotected', reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.cancel();
    this.tracker.stop();
    this.channel.close();
    void Promise.resolve(this.output.releaseAll()).then(() => this.updateHeld());
    this.stats.state = state;
    this.stats.reason = reason;
    this.log(state === 'off' ? `fault tolerance off: ${reason}` : `${reason}; the VM runs on unprotected and ${this.heldOutputNote}`);
    this.emit('ended', { state, reason });
  }
}
