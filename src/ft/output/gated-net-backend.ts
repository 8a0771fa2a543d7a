/**
 * Output commit for the network: a NetBackend in front of the real one (the tap) that,
 * while the VM is protected, holds every packet the guest sends in epoch N until the
 * backup has acknowledged N. Only then may the world see it: a packet the world saw must
 * never be "unsent" by a failover to a state from before it was produced.
 *
 * Modes:
 * - 'pass' (unprotected): packets go straight to the real back end.
 * - 'hold' (protected): send() copies the packet (the device hands out views of guest
 *   buffers and gives them back to the guest at once) into one FIFO, tagged with the
 *   current epoch; releaseThrough(N) hands every packet of epochs <= N to the real back
 *   end, in order, waiting on the real back end's whenDrained() whenever it says it is
 *   backed up.
 *
 * One FIFO for all epochs keeps the order trivially: epochs only increase, so released
 * packets are always a prefix of the queue. Packets still queued when holding ends
 * (releaseAll) stay ahead of anything sent later, so the wire order is the guest's order.
 *
 * Memory bound: when the bytes held exceed maxHeldBytes, send() still takes the packet
 * (the guest has already been told the buffer is done) but returns false, which makes
 * virtio-net stop transmitting until whenDrained(); that resolves once a release brought
 * the held bytes back under the bound. So a slow backup backs the guest's TX queue up
 * instead of growing the VMM. A caller that ignores false and sends again while over the
 * bound has its packet dropped (counted in droppedSends), as a full NIC queue would.
 *
 * Receiving is not gated: incoming packets change only guest state, which the next
 * epoch carries to the backup anyway.
 *
 * Split brain (output-permit.ts): whatever the mode, a packet reaches the real back end
 * only while the output permit says yes (asked with acked = hold mode); otherwise it is
 * queued, in order, until permitChanged() after the lease is won or renewed, or forever
 * once fenced.
 */
import type { TapPacketHandler } from '../../net/tap.js';
import type { NetBackend } from '../../devices/virtio-net/backend.js';
import { checkEpochNumber, checkNextEpoch, checkReleasable } from './epoch-number.js';
import { OutputGateError } from './errors.js';
import { ALWAYS_PERMITTED, type OutputPermit, type OutputPermitTarget } from './output-permit.js';

export type NetGateMode = 'pass' | 'hold';

export const DEFAULT_MAX_HELD_NET_BYTES = 64 * 1024 * 1024;

export interface GatedNetOptions {
  /** Bytes held before send() starts answering false (default 64 MiB). */
  maxHeldBytes?: number;
  /** Milliseconds clock for hold times (default performance.now). */
  now?: () => number;
}

export interface NetGateStats {
  mode: NetGateMode;
  /** The epoch packets are tagged with now (-1 before holding ever started). */
  epoch: number;
  /** Queued now: held, or released and waiting for the real back end. */
  heldPackets: number;
  heldBytes: number;
  totalHeldPackets: number;
  totalHeldBytes: number;
  totalReleasedPackets: number;
  totalReleasedBytes: number;
  totalDiscardedPackets: number;
  /** Longest time a packet spent queued before reaching the real back end. */
  maxHoldMs: number;
  /** Packets refused because the caller sent while over the bound, or the real back end threw. */
  droppedSends: number;
}

interface QueuedPacket {
  /** -Infinity: queued while not holding (or holding ended): sendable at once, behind older packets. */
  epoch: number;
  packet: Uint8Array;
  queuedAt: number;
}

interface ReleaseWaiter {
  epoch: number;
  resolve: () => void;
}

const UNHELD = Number.NEGATIVE_INFINITY;
/** Hold-time samples kept between two takeHoldTimes() calls (the FT engine takes them at every acknowledgement). */
const MAX_HOLD_SAMPLES = 4096;

export class GatedNetBackend implements NetBackend, OutputPermitTarget {
  readonly maxHeldBytes: number;
  private readonly now: () => number;
  private currentMode: NetGateMode = 'pass';
  private epoch = -1;
  /** Packets of epochs <= this may go out. */
  private releasedThrough = Number.POSITIVE_INFINITY;
  private readonly queue: QueuedPacket[] = [];
  /** Index of the queue's first live entry (the array is compacted now and then, not shifted per packet). */
  private head = 0;
  private heldBytes = 0;
  private pumping = false;
  private spaceWaiters: (() => void)[] = [];
  private releaseWaiters: ReleaseWaiter[] = [];
  private ownDrops = 0;
  private totals = { heldPackets: 0, heldBytes: 0, releasedPackets: 0, releasedBytes: 0, discardedPackets: 0, maxHoldMs: 0 };
  private permit: OutputPermit = ALWAYS_PERMITTED;
  /** Hold times (ms) of held packets released since takeHoldTimes() last ran (bounded: the oldest are dropped). */
  private holdTimes: number[] = [];

  /** virtio-net compares droppedSends around each send: ours plus the real back end's. */
  readonly stats: { readonly droppedSends: number };

  constructor(private readonly inner: NetBackend, options: GatedNetOptions = {}) {
    const max = options.maxHeldBytes ?? DEFAULT_MAX_HELD_NET_BYTES;
    if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`maxHeldBytes must be a positive integer, got ${max}`);
    this.maxHeldBytes = max;
    this.now = options.now ?? (() => performance.now());
    const self = this;
    this.stats = {
      get droppedSends() {
        return self.ownDrops + self.inner.stats.droppedSends;
      },
    };
  }

  get name(): string {
    return this.inner.name;
  }

  get mode(): NetGateMode {
    return this.currentMode;
  }

  /** Protection starts: packets sent from now on belong to `epoch` and wait for its acknowledgement. */
  startHolding(epoch: number): void {
    checkEpochNumber(epoch, 'startHolding');
    if (this.currentMode === 'hold') throw new OutputGateError(`startHolding: the network gate of '${this.name}' is already holding: call releaseAll() first`);
    this.currentMode = 'hold';
    this.epoch = epoch;
    // Packets still queued from before are tagged UNHELD, so they keep flowing.
    this.releasedThrough = epoch - 1;
  }

  /** An epoch boundary: packets sent from now on belong to `epoch`. */
  beginEpoch(epoch: number): void {
    if (this.currentMode !== 'hold') throw new OutputGateError(`beginEpoch(${epoch}): the network gate of '${this.name}' is not holding: call startHolding() first`);
    checkNextEpoch(this.epoch, epoch, 'beginEpoch');
    this.epoch = epoch;
  }

  /**
   * Epochs <= `epoch` are acknowledged: their packets go out. Resolves once all of them
   * were handed to the real back end (which may still be queueing them itself).
   */
  releaseThrough(epoch: number): Promise<void> {
    if (this.currentMode === 'hold') {
      checkReleasable(this.epoch, epoch, 'releaseThrough');
      if (epoch > this.releasedThrough) this.releasedThrough = epoch;
    } else {
      checkEpochNumber(epoch, 'releaseThrough');
    }
    return this.kickAndWait(epoch);
  }

  /** Protection ended (backup lost or cancelled): everything held goes out, and sends pass from now on. */
  releaseAll(): Promise<void> {
    this.currentMode = 'pass';
    this.releasedThrough = Number.POSITIVE_INFINITY;
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].epoch = UNHELD;
    return this.kickAndWait(Number.POSITIVE_INFINITY);
  }

  /** Drops every queued packet (none of it may ever be seen). The mode stays as it is. */
  discardAll(): void {
    this.totals.discardedPackets += this.queue.length - this.head;
    this.queue.length = 0;
    this.head = 0;
    this.heldBytes = 0;
    this.wakeWaiters();
  }

  setOutputPermit(permit: OutputPermit): void {
    this.permit = permit;
  }

  permitChanged(): void {
    this.kick();
    this.wakeWaiters();
  }

  /** Hold times (ms) of the held packets released since the last call, oldest first. */
  takeHoldTimes(): number[] {
    const taken = this.holdTimes;
    this.holdTimes = [];
    return taken;
  }

  holdStats(): NetGateStats {
    return {
      mode: this.currentMode,
      epoch: this.epoch,
      heldPackets: this.queue.length - this.head,
      heldBytes: this.heldBytes,
      totalHeldPackets: this.totals.heldPackets,
      totalHeldBytes: this.totals.heldBytes,
      totalReleasedPackets: this.totals.releasedPackets,
      totalReleasedBytes: this.totals.releasedBytes,
      totalDiscardedPackets: this.totals.discardedPackets,
      maxHoldMs: this.totals.maxHoldMs,
      droppedSends: this.ownDrops,
    };
  }

  send(packet: readonly Uint8Array[]): boolean {
    // Unprotected and nothing queued ahead: no copy, the real back end's own answer.
    if (this.currentMode === 'pass' && this.queue.length === this.head && this.permit(false)) return this.inner.send(packet);
    if (this.heldBytes > this.maxHeldBytes) {
      this.ownDrops++;
      return false;
    }
    const copy = concat(packet);
    this.queue.push({ epoch: this.currentMode === 'hold' ? this.epoch : UNHELD, packet: copy, queuedAt: this.now() });
    this.heldBytes += copy.byteLength;
    this.totals.heldPackets++;
    this.totals.heldBytes += copy.byteLength;
    if (this.currentMode === 'pass') this.kick();
    return this.heldBytes <= this.maxHeldBytes;
  }

  whenDrained(): Promise<void> {
    if (this.currentMode === 'pass' && this.queue.length === this.head) return this.inner.whenDrained();
    if (this.heldBytes <= this.maxHeldBytes) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  receive(handler: TapPacketHandler, onError?: (error: Error) => void): void {
    this.inner.receive(handler, onError);
  }

  stopReceive(): void {
    this.inner.stopReceive();
  }

  pauseReceive(): void {
    this.inner.pauseReceive();
  }

  resumeReceive(): void {
    this.inner.resumeReceive();
  }

  setOffloads(flags: number): void {
    this.inner.setOffloads(flags);
  }

  private kickAndWait(epoch: number): Promise<void> {
    const done = new Promise<void>((resolve) => this.releaseWaiters.push({ epoch, resolve }));
    this.kick();
    this.wakeWaiters();
    return done;
  }

  private kick(): void {
    if (!this.pumping) void this.pump();
  }

  /** Hands releasable packets to the real back end in order, pausing while it is backed up. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.head < this.queue.length && this.queue[this.head].epoch <= this.releasedThrough && this.permit(this.currentMode === 'hold')) {
        const entry = this.queue[this.head++];
        this.heldBytes -= entry.packet.byteLength;
        this.totals.releasedPackets++;
        this.totals.releasedBytes += entry.packet.byteLength;
        const heldMs = this.now() - entry.queuedAt;
        this.totals.maxHoldMs = Math.max(this.totals.maxHoldMs, heldMs);
        // Only packets output commit held: what it adds to the guest's round trips.
        if (entry.epoch !== UNHELD) {
          if (this.holdTimes.length >= MAX_HOLD_SAMPLES) this.holdTimes.shift();
          this.holdTimes.push(heldMs);
        }
        this.compact();
        let ready = true;
        try {
          ready = this.inner.send([entry.packet]);
        } catch {
          // The real back end is gone (tap closed): the packet is lost, as on a dead link.
          this.ownDrops++;
        }
        this.wakeWaiters();
        // false: the real back end queued this packet; the next may go only after it drained.
        if (!ready) await this.inner.whenDrained();
      }
    } finally {
      this.pumping = false;
    }
    this.wakeWaiters();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private wakeWaiters(): void {
    if (this.heldBytes <= this.maxHeldBytes && this.spaceWaiters.length > 0) {
      for (const wake of this.spaceWaiters.splice(0)) wake();
    }
    if (this.releaseWaiters.length === 0) return;
    const firstEpoch = this.head < this.queue.length ? this.queue[this.head].epoch : Number.POSITIVE_INFINITY;
    const empty = this.head === this.queue.length;
    this.releaseWaiters = this.releaseWaiters.filter((w) => {
      // Done when no packet of an epoch <= w.epoch is left (releaseAll waits for an empty queue).
      const done = empty || (w.epoch !== Number.POSITIVE_INFINITY && firstEpoch > w.epoch);
      if (done) w.resolve();
      return !done;
    });
  }
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0].slice();
  let length = 0;
  for (const p of pieces) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
