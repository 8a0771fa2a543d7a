/**
 * The device side of one split virtqueue (§2.7): the three ring areas the driver set up,
 * the device's position in the available ring and in the used ring, and interrupt
 * suppression (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_RING_EVENT_IDX).
 * All ring accesses go through GuestMemory (bounds-checked; writes reach `onWrite`).
 * Anything malformed throws VirtqueueError, which the transport turns into NEEDS_RESET.
 *
 * Layout (§2.7.6, §2.7.8), for a queue of `size` entries:
 *   descriptor table: 16 * size bytes, 16-byte aligned
 *   driver area (avail): flags u16, idx u16, ring[size] u16, used_event u16
 *   device area (used):  flags u16, idx u16, ring[size] {id u32, len u32}, avail_event u16
 */
import { GuestMemory } from '../../memory/guest-memory.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_SIZE, VIRTQ_MAX_SIZE, VIRTQ_USED_ELEM_SIZE } from './constants.js';
import { readDescriptorChain, type DescriptorChain } from './descriptor-chain.js';
import { VirtqueueError } from './errors.js';
import { memoryFence } from './fence.js';

/** What a saved queue holds: the driver's register values and the device's ring positions. */
export interface VirtqueueState {
  size: number;
  ready: boolean;
  descLow: number;
  descHigh: number;
  driverLow: number;
  driverHigh: number;
  deviceLow: number;
  deviceHigh: number;
  /** Next available-ring index the device will read (free-running u16). */
  nextAvail: number;
  /** Next used-ring index the device will write (free-running u16). */
  nextUsed: number;
  /** Used index when the device last decided whether to interrupt (event-idx bookkeeping). */
  lastSignalledUsed: number;
}

/** One finished chain for the used ring. */
export interface UsedElement {
  /** Head descriptor index of the chain. */
  head: number;
  /** Bytes the device wrote into the chain's buffers. */
  len: number;
}

export class SplitVirtqueue {
  /** QueueNum as written by the driver; starts at the maximum (§4.2.3.2 lets the driver keep it). */
  size: number;
  ready = false;
  descLow = 0;
  descHigh = 0;
  driverLow = 0;
  driverHigh = 0;
  deviceLow = 0;
  deviceHigh = 0;
  nextAvail = 0;
  nextUsed = 0;
  lastSignalledUsed = 0;
  /** Set by the transport on DRIVER_OK from the negotiated features. */
  eventIdx = false;
  indirect = false;

  constructor(readonly index: number, readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > VIRTQ_MAX_SIZE || (maxSize & (maxSize - 1)) !== 0) {
      throw new RangeError(`virtqueue maximum size must be a power of two in 1..${VIRTQ_MAX_SIZE}, got ${maxSize}`);
    }
    this.size = maxSize;
  }

  get descAddr(): number { return this.descHigh * 2 ** 32 + this.descLow; }
  get driverAddr(): number { return this.driverHigh * 2 ** 32 + this.driverLow; }
  get deviceAddr(): number { return this.deviceHigh * 2 ** 32 + this.deviceLow; }

  /** Back to the state after a device reset (§2.1: queue registers read as zero, not ready). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descLow = this.descHigh = this.driverLow = this.driverHigh = this.deviceLow = this.deviceHigh = 0;
    this.nextAvail = this.nextUsed = this.lastSignalledUsed = 0;
    this.eventIdx = false;
    this.indirect = false;
  }

  /** Why the driver's setup of this queue is unusable, or undefined when it is fine. */
  problem(mem: GuestMemory): string | undefined {
    const { size } = this;
    if (size < 1 || size > this.maxSize || (size & (size - 1)) !== 0) {
      return `queue ${this.index}: size ${size} is not a power of two in 1..${this.maxSize}`;
    }
    const areas: [string, number, number, number][] = [
      ['descriptor table', this.descAddr, VIRTQ_DESC_SIZE * size, 16],
      ['driver area', this.driverAddr, 6 + 2 * size, 2],
      ['device area', this.deviceAddr, 6 + VIRTQ_USED_ELEM_SIZE * size, 4],
    ];
    for (const [name, gpa, len, align] of areas) {
      if (!Number.isSafeInteger(gpa) || gpa % align !== 0 || !mem.contains(gpa, len)) {
        return `queue ${this.index}: ${name} 0x${gpa.toString(16)}+${len} is misaligned or outside guest RAM`;
      }
    }
    return undefined;
  }

  /**
   * The next chain the driver made available, or undefined when there is none. With event
   * idx, finding the ring empty also re-arms driver notifications (writes avail_event), so
   * a device must keep popping until undefined before it waits for the next notify.
   */
  pop(mem: GuestMemory): DescriptorChain | undefined {
    let availIdx = mem.readU16(this.driverAddr + 2);
    if (availIdx === this.nextAvail && this.eventIdx) {
      mem.writeU16(this.deviceAddr + 4 + VIRTQ_USED_ELEM_SIZE * this.size, this.nextAvail);
      memoryFence();
      availIdx = mem.readU16(this.driverAddr + 2);
    }
    const pending = (availIdx - this.nextAvail) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > this.size) {
      throw new VirtqueueError(`queue ${this.index}: available index ${availIdx} is ${pending} entries ahead of the device, more than the queue size ${this.size}`);
    }
    const head = mem.readU16(this.driverAddr + 4 + 2 * (this.nextAvail % this.size));
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    return this.chainAt(mem, head);
  }

  /** The chain starting at descriptor `head` (re-reading a request recorded in flight after a restore). */
  chainAt(mem: GuestMemory, head: number): DescriptorChain {
    return readDescriptorChain(mem, { tableGpa: this.descAddr, queueSize: this.size, indirectAllowed: this.indirect }, head);
  }

  /** Returns a finished chain to the driver: `len` is the number of bytes written into its buffers. */
  pushUsed(mem: GuestMemory, head: number, len: number): void {
    this.writeUsedElement(mem, head, len);
    this.publishUsed(mem);
  }

  /**
   * Returns several finished chains with one used-index write, so the driver sees all of
   * them or none. virtio-net needs this for a packet spread over several receive buffers
   * (MRG_RXBUF): Linux reads num_buffers from the first one and takes the others at once,
   * counting any not yet published as missing. Interrupt suppression is unchanged: call
   * shouldInterrupt() afterwards as after pushUsed (with event idx it asks whether
   * used_event lies anywhere in the batch). An empty batch writes nothing.
   */
  pushUsedBatch(mem: GuestMemory, entries: readonly UsedElement[]): void {
    if (entries.length === 0) return;
    if (entries.length > this.size) {
      // More entries than ring slots would overwrite ones the driver has not read: a device bug.
      throw new RangeError(`queue ${this.index}: a used batch of ${entries.length} entries exceeds the queue size ${this.size}`);
    }
    for (const { head, len } of entries) this.writeUsedElement(mem, head, len);
    this.publishUsed(mem);
  }

  private writeUsedElement(mem: GuestMemory, head: number, len: number): void {
    const elem = this.deviceAddr + 4 + VIRTQ_USED_ELEM_SIZE * (this.nextUsed % this.size);
    mem.writeU32(elem, head);
    mem.writeU32(elem + 4, len);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
  }

  private publishUsed(mem: GuestMemory): void {
    // Buffer contents and used elements must be visible before the index that publishes them.
    memoryFence();
    mem.writeU16(this.deviceAddr + 2, this.nextUsed);
  }

  /**
   * Whether the driver wants an interrupt for the used entries pushed since the last call
   * (§2.7.7.2 / §2.7.10). Call once after a batch of pushUsed / pushUsedBatch.
   */
  shouldInterrupt(mem: GuestMemory): boolean {
    const old = this.lastSignalledUsed;
    const now = this.nextUsed;
    this.lastSignalledUsed = now;
    if (old === now) return false;
    // Our used index must be visible before we read the driver's used_event / flags.
    memoryFence();
    if (this.eventIdx) {
      const usedEvent = mem.readU16(this.driverAddr + 4 + 2 * this.size);
      // vring_need_event(): did the index pass used_event in (old, now]?
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (mem.readU16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
  }

  saveState(): VirtqueueState {
    return {
      size: this.size, ready: this.ready,
      descLow: this.descLow, descHigh: this.descHigh,
      driverLow: this.driverLow, driverHigh: this.driverHigh,
      deviceLow: this.deviceLow, deviceHigh: this.deviceHigh,
      nextAvail: this.nextAvail, nextUsed: this.nextUsed, lastSignalledUsed: this.lastSignalledUsed,
    };
  }

  /** Applies an already validated state (see validateQueueState). */
  loadState(s: VirtqueueState): void {
    Object.assign(this, {
      size: s.size, ready: s.ready,
      descLow: s.descLow, descHigh: s.descHigh, driverLow: s.driverLow, driverHigh: s.driverHigh,
      deviceLow: s.deviceLow, deviceHigh: s.deviceHigh,
      nextAvail: s.nextAvail, nextUsed: s.nextUsed, lastSignalledUsed: s.lastSignalledUsed,
    });
  }
}
