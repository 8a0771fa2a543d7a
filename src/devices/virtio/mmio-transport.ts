/**
 * virtio-mmio transport, modern interface (version 2, virtio 1.2 §4.2.2), as a BusDevice
 * for one 0x200-byte MMIO window: registers at 0x000..0x0ff, device config from 0x100.
 *
 * Notifications: a QueueNotify write arriving as an MMIO exit is handled here (write at
 * 0x50); with an ioeventfd registered at base+0x50 (4 bytes, datamatch = queue index), the
 * VMM calls `notify(index)` when the eventfd fires instead. Both end in device.processQueue.
 *
 * Interrupts are level-triggered (§4.2.2: the device asserts its interrupt while
 * InterruptStatus is non-zero): `line.set(true)` when InterruptStatus becomes non-zero,
 * `line.set(false)` when the driver's InterruptACK clears it. `set` is called only on a change.
 *
 * Legacy (version 1) drivers are refused: QueuePFN/GuestPageSize writes are ignored and
 * FEATURES_OK is not accepted without VIRTIO_F_VERSION_1, so the driver sees the device
 * refuse its feature set (§3.1.1 step 6).
 *
 * Malformed guest data (bad ring addresses, broken descriptor chains, any error thrown by
 * the device) never propagates: the device is marked DEVICE_NEEDS_RESET, a config-change
 * interrupt is raised, and notifications are ignored until the driver resets the device.
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import type { BusDevice } from '../../vm/io-bus.js';
import * as C from './constants.js';
import type { VirtioDevice, VirtioInterrupt } from './device.js';
import { SplitVirtqueue } from './queue.js';
import { validateVirtioMmioState, VIRTIO_MMIO_STATE_VERSION, type VirtioMmioState } from './state.js';

/** An interrupt output; the VMM maps it to KVM_IRQ_LINE (or an irqfd with resample). */
export interface InterruptLine {
  set(level: boolean): void;
}

export interface VirtioMmioTransportOptions {
  memory: GuestMemory;
  device: VirtioDevice;
  line: InterruptLine;
  /** Diagnostics: a device marked NEEDS_RESET and why, a legacy driver refused. */
  onWarning?: (message: string) => void;
}

/** Feature bits the transport itself implements for every device. */
export const TRANSPORT_FEATURES = C.VIRTIO_F_VERSION_1 | C.VIRTIO_F_RING_INDIRECT_DESC | C.VIRTIO_F_RING_EVENT_IDX;

const U32_MASK = 0xffffffffn;

export class VirtioMmioTransport implements BusDevice {
  readonly device: VirtioDevice;
  readonly queues: SplitVirtqueue[];
  private readonly memory: GuestMemory;
  private readonly line: InterruptLine;
  private readonly warn: (message: string) => void;
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  private configGeneration = 0;
  private lineLevel = false;
  /** Bumped on every reset so signals from an earlier activation are ignored. */
  private epoch = 0;

  constructor(opts: VirtioMmioTransportOptions) {
    this.device = opts.device;
    this.memory = opts.memory;
    this.line = opts.line;
    this.warn = opts.onWarning ?? (() => {});
    this.queues = opts.device.queueMaxSizes.map((max, i) => new SplitVirtqueue(i, max));
  }

  /** Everything the device offers: its own bits plus the transport's. */
  get deviceFeatures(): bigint {
    return this.device.features | TRANSPORT_FEATURES;
  }

  get negotiatedFeatures(): bigint {
    return this.status & C.STATUS_FEATURES_OK ? this.driverFeatures : 0n;
  }

  get deviceStatus(): number {
    return this.status;
  }

  get interruptLevel(): boolean {
    return this.lineLevel;
  }

  private get live(): boolean {
    return (this.status & C.STATUS_DRIVER_OK) !== 0 && (this.status & C.STATUS_DEVICE_NEEDS_RESET) === 0;
  }

  read(offset: number, size: number): number | bigint {
    if (offset >= C.REG_CONFIG) return this.readConfig(offset - C.REG_CONFIG, size);
    if (size !== 4 || offset % 4 !== 0) return 0; // §4.2.2: registers are 32-bit wide
    switch (offset) {
      case C.REG_MAGIC_VALUE: return C.VIRTIO_MMIO_MAGIC;
      case C.REG_VERSION: return C.VIRTIO_MMIO_VERSION;
      case C.REG_DEVICE_ID: return this.device.deviceId;
      case C.REG_VENDOR_ID: return C.VIRTIO_VENDOR_ID;
      case C.REG_DEVICE_FEATURES:
        return this.deviceFeaturesSel < 2 ? Number((this.deviceFeatures >> BigInt(32 * this.deviceFeaturesSel)) & U32_MASK) : 0;
      case C.REG_QUEUE_NUM_MAX: return this.selectedQueue()?.maxSize ?? 0;
      case C.REG_QUEUE_READY: return this.selectedQueue()?.ready ? 1 : 0;
      case C.REG_INTERRUPT_STATUS: return this.interruptStatus;
      case C.REG_STATUS: return this.status;
      case C.REG_CONFIG_GENERATION: return this.configGeneration;
      default: return 0; // write-only and reserved registers
    }
  }

  write(offset: number, size: number, value: number | bigint): void {
    if (offset >= C.REG_CONFIG) {
      this.writeConfig(offset - C.REG_CONFIG, size, value);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) return;
    const v = Number(BigInt(value) & U32_MASK);
    const q = this.selectedQueue();
    // Queue layout registers are frozen while the queue is ready (§4.2.3.2).
    const qw = q && !q.ready ? q : undefined;
    switch (offset) {
      case C.REG_DEVICE_FEATURES_SEL: this.deviceFeaturesSel = v; break;
      case C.REG_DRIVER_FEATURES_SEL: this.driverFeaturesSel = v; break;
      case C.REG_DRIVER_FEATURES: this.writeDriverFeatures(v); break;
      case C.REG_QUEUE_SEL: this.queueSel = v; break;
      case C.REG_QUEUE_NUM: if (qw) qw.size = v; break;
      case C.REG_QUEUE_READY: if (q) q.ready = (v & 1) === 1; break;
      case C.REG_QUEUE_DESC_LOW: if (qw) qw.descLow = v; break;
      case C.REG_QUEUE_DESC_HIGH: if (qw) qw.descHigh = v; break;
      case C.REG_QUEUE_DRIVER_LOW: if (qw) qw.driverLow = v; break;
      case C.REG_QUEUE_DRIVER_HIGH: if (qw) qw.driverHigh = v; break;
      case C.REG_QUEUE_DEVICE_LOW: if (qw) qw.deviceLow = v; break;
      case C.REG_QUEUE_DEVICE_HIGH: if (qw) qw.deviceHigh = v; break;
      case C.REG_QUEUE_NOTIFY: this.notify(v); break;
      case C.REG_INTERRUPT_ACK:
        this.interruptStatus &= ~v;
        this.updateLine();
        break;
      case C.REG_STATUS: this.writeStatus(v & 0xff); break;
      case C.REG_LEGACY_GUEST_PAGE_SIZE:
      case C.REG_LEGACY_QUEUE_PFN:
        this.warn(`${this.device.name}: legacy (virtio-mmio version 1) register 0x${offset.toString(16)} written; this device is virtio 1.x only`);
        break;
      default: break;
    }
  }

  /** A machine reset: the same as the driver writing Status = 0 (work in flight is dropped). */
  hostReset(): void {
    this.reset();
  }

  /** The driver notified queue `index` (QueueNotify write or its ioeventfd). */
  notify(index: number): void {
    if (!this.live) return;
    const q = this.queues[index];
    if (!q || !q.ready) return;
    try {
      this.device.processQueue(index);
    } catch (e) {
      this.needsReset(`queue ${index}: ${(e as Error).message}`);
    }
  }

  private selectedQueue(): SplitVirtqueue | undefined {
    return this.queues[this.queueSel];
  }

  private writeDriverFeatures(v: number): void {
    if (this.status & C.STATUS_FEATURES_OK || this.driverFeaturesSel > 1) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(U32_MASK << shift)) | (BigInt(v) << shift);
  }

  private writeStatus(v: number): void {
    if (v === 0) {
      this.reset();
      return;
    }
    const before = this.status;
    let next = v | (before & C.STATUS_DEVICE_NEEDS_RESET);
    if (next & C.STATUS_FEATURES_OK && !(before & C.STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      next &= ~C.STATUS_FEATURES_OK; // the driver reads Status back and sees the refusal
    }
    if (next & C.STATUS_DRIVER_OK && !(next & C.STATUS_FEATURES_OK)) {
      this.warn(`${this.device.name}: driver set DRIVER_OK without an accepted FEATURES_OK; ignored`);
      next &= ~C.STATUS_DRIVER_OK;
    }
    this.status = next;
    if (next & C.STATUS_DRIVER_OK && !(before & C.STATUS_DRIVER_OK)) this.activate();
  }

  private featuresAcceptable(): boolean {
    if (!(this.driverFeatures & C.VIRTIO_F_VERSION_1)) {
      this.warn(`${this.device.name}: driver did not accept VIRTIO_F_VERSION_1 (a legacy driver); refusing FEATURES_OK`);
      return false;
    }
    if (this.driverFeatures & ~this.deviceFeatures) {
      this.warn(`${this.device.name}: driver accepted features 0x${(this.driverFeatures & ~this.deviceFeatures).toString(16)} the device does not offer; refusing FEATURES_OK`);
      return false;
    }
    return true;
  }

  /** Configures the ready queues from the negotiated features and starts the device. */
  private activate(): void {
    const features = this.driverFeatures;
    for (const q of this.queues) {
      q.eventIdx = (features & C.VIRTIO_F_RING_EVENT_IDX) !== 0n;
      q.indirect = (features & C.VIRTIO_F_RING_INDIRECT_DESC) !== 0n;
      const problem = q.ready ? q.problem(this.memory) : undefined;
      if (problem) {
        this.needsReset(problem);
        return;
      }
    }
    try {
      this.device.activate({ memory: this.memory, queues: this.queues, features, interrupt: this.interruptFor(this.epoch) });
    } catch (e) {
      this.needsReset(`activation failed: ${(e as Error).message}`);
    }
  }

  private interruptFor(epoch: number): VirtioInterrupt {
    const current = () => epoch === this.epoch;
    return {
      usedBuffers: (index) => {
        if (!current() || !this.live) return;
        const q = this.queues[index];
        if (!q) return;
        try {
          if (!q.shouldInterrupt(this.memory)) return;
        } catch (e) {
          this.needsReset(`queue ${index}: ${(e as Error).message}`);
          return;
        }
        this.interruptStatus |= C.INT_USED_BUFFER;
        this.updateLine();
      },
      configChanged: () => {
        if (!current()) return;
        this.configGeneration = (this.configGeneration + 1) >>> 0;
        if (!(this.status & C.STATUS_DRIVER_OK)) return;
        this.interruptStatus |= C.INT_CONFIG_CHANGE;
        this.updateLine();
      },
      needsReset: (reason) => {
        if (current()) this.needsReset(reason);
      },
    };
  }

  /** §2.1.2: the device is broken until reset; tell the driver with a config-change interrupt. */
  private needsReset(reason: string): void {
    if (this.status & C.STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= C.STATUS_DEVICE_NEEDS_RESET;
    this.warn(`${this.device.name}: device needs reset: ${reason}`);
    if (this.status & C.STATUS_DRIVER_OK) {
      this.interruptStatus |= C.INT_CONFIG_CHANGE;
      this.updateLine();
    }
  }

  private reset(): void {
    this.epoch++;
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.driverFeatures = 0n;
    this.interruptStatus = 0;
    for (const q of this.queues) q.reset();
    try {
      this.device.reset();
    } catch (e) {
      this.warn(`${this.device.name}: reset failed: ${(e as Error).message}`);
    }
    this.updateLine();
  }

  private readConfig(offset: number, size: number): number | bigint {
    if (![1, 2, 4, 8].includes(size) || offset + size > this.device.configSize) return size === 8 ? 0n : 0;
    const bytes = new Uint8Array(size);
    this.device.readConfig(offset, bytes);
    const dv = new DataView(bytes.buffer);
    switch (size) {
      case 1: return bytes[0];
      case 2: return dv.getUint16(0, true);
      case 4: return dv.getUint32(0, true);
      default: return dv.getBigUint64(0, true);
    }
  }

  private writeConfig(offset: number, size: number, value: number | bigint): void {
    if (![1, 2, 4, 8].includes(size) || offset + size > this.device.configSize) return;
    const le = new Uint8Array(8);
    new DataView(le.buffer).setBigUint64(0, BigInt(value) & 0xffffffffffffffffn, true);
    this.device.writeConfig(offset, le.subarray(0, size));
  }

  private updateLine(): void {
    const level = this.interruptStatus !== 0;
    if (level === this.lineLevel) return;
    this.lineLevel = level;
    this.line.set(level);
  }

  saveState(): VirtioMmioState {
    return {
      version: VIRTIO_MMIO_STATE_VERSION,
      deviceId: this.device.deviceId,
      status: this.status,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      driverFeatures: this.driverFeatures.toString(),
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.saveState()),
      device: this.device.saveState(),
    };
  }

  /**
   * Loads a saved state (validated: VirtioStateError or the device's own error names the
   * bad field). The device is reset, given its state, and re-activated if it was live, so
   * it can re-issue requests that were in flight. The interrupt line is set to the saved
   * level once, so a fresh VM's line matches.
   */
  restoreState(raw: unknown): void {
    const s = validateVirtioMmioState(raw, { deviceId: this.device.deviceId, queueMaxSizes: this.device.queueMaxSizes });
    this.reset();
    this.device.restoreState(s.device);
    this.status = s.status;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.driverFeatures = s.driverFeaturesValue;
    this.queueSel = s.queueSel;
    this.interruptStatus = s.interruptStatus;
    this.configGeneration = s.configGeneration;
    s.queues.forEach((q, i) => this.queues[i].loadState(q));
    if (this.live) this.activate();
    this.lineLevel = this.interruptStatus !== 0;
    this.line.set(this.lineLevel);
  }
}
