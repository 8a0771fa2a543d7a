/**
 * A minimal virtio driver for tests: sets up a device through its MMIO registers (the
 * §3.1.1 handshake), lays out split rings in a GuestMemory over a plain buffer, posts
 * descriptor chains (direct or indirect) and reads the used ring back.
 */
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import * as C from '../../../src/devices/virtio/constants.js';
import { VirtioMmioTransport } from '../../../src/devices/virtio/mmio-transport.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';

export interface BufferSpec {
  /** Bytes the device reads (a device-readable buffer). */
  data?: Uint8Array;
  /** Size of a device-writable buffer. */
  writable?: number;
}

export interface PostedBuffer {
  gpa: number;
  len: number;
  writable: boolean;
}

export const RAM_SIZE = 1 << 20;
export const DESC_GPA = 0x1000;
export const AVAIL_GPA = 0x3000;
export const USED_GPA = 0x4000;
export const INDIRECT_GPA = 0x8000;
export const DATA_GPA = 0x10000;

export class FakeDriver {
  readonly bytes = new Uint8Array(RAM_SIZE);
  readonly mem = GuestMemory.fromBuffer(this.bytes);
  readonly transport: VirtioMmioTransport;
  readonly lineLevels: boolean[] = [];
  readonly warnings: string[] = [];
  private nextDesc = 0;
  private nextData = DATA_GPA;
  private nextIndirect = INDIRECT_GPA;
  availIdx = 0;
  lastSeenUsed = 0;

  constructor(readonly device: VirtioDevice, readonly queueSize = 16) {
    this.transport = new VirtioMmioTransport({
      memory: this.mem,
      device,
      line: { set: (l) => this.lineLevels.push(l) },
      onWarning: (m) => this.warnings.push(m),
    });
  }

  r(off: number): number { return Number(this.transport.read(off, 4)); }
  w(off: number, v: number): void { this.transport.write(off, 4, v); }

  deviceFeatures(): bigint {
    this.w(C.REG_DEVICE_FEATURES_SEL, 0);
    const lo = BigInt(this.r(C.REG_DEVICE_FEATURES));
    this.w(C.REG_DEVICE_FEATURES_SEL, 1);
    return (BigInt(this.r(C.REG_DEVICE_FEATURES)) << 32n) | lo;
  }

  /** Reset, feature negotiation and queue 0 setup; returns the status read back after FEATURES_OK. */
  negotiate(features: bigint): number {
    this.w(C.REG_STATUS, 0);
    this.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE);
    this.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER);
    this.w(C.REG_DRIVER_FEATURES_SEL, 0);
    this.w(C.REG_DRIVER_FEATURES, Number(features & 0xffffffffn));
    this.w(C.REG_DRIVER_FEATURES_SEL, 1);
    this.w(C.REG_DRIVER_FEATURES, Number(features >> 32n));
    this.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK);
    return this.r(C.REG_STATUS);
  }

  setupQueue(index = 0, size = this.queueSize): void {
    this.w(C.REG_QUEUE_SEL, index);
    this.w(C.REG_QUEUE_NUM, size);
    this.w(C.REG_QUEUE_DESC_LOW, DESC_GPA);
    this.w(C.REG_QUEUE_DESC_HIGH, 0);
    this.w(C.REG_QUEUE_DRIVER_LOW, AVAIL_GPA);
    this.w(C.REG_QUEUE_DRIVER_HIGH, 0);
    this.w(C.REG_QUEUE_DEVICE_LOW, USED_GPA);
    this.w(C.REG_QUEUE_DEVICE_HIGH, 0);
    this.w(C.REG_QUEUE_READY, 1);
  }

  /** The whole §3.1.1 sequence with the device's features (minus `without`). */
  start(without = 0n): void {
    const st = this.negotiate(this.deviceFeatures() & ~without);
    if (!(st & C.STATUS_FEATURES_OK)) throw new Error('device refused features');
    this.setupQueue();
    this.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK | C.STATUS_DRIVER_OK);
  }

  alloc(len: number): number {
    const gpa = this.nextData;
    this.nextData += Math.max(16, Math.ceil(len / 16) * 16);
    return gpa;
  }

  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const at = table + 16 * i;
    this.mem.writeU64(at, BigInt(addr));
    this.mem.writeU32(at + 8, len);
    this.mem.writeU16(at + 12, flags);
    this.mem.writeU16(at + 14, next);
  }

  /** Posts a chain and makes it available (without notifying); returns its buffers and head. */
  post(specs: BufferSpec[], opts: { indirect?: boolean } = {}): { head: number; buffers: PostedBuffer[] } {
    const buffers = specs.map((s): PostedBuffer => {
      const len = s.data ? s.data.length : s.writable ?? 0;
      const gpa = this.alloc(len);
      if (s.data) this.mem.write(gpa, s.data);
      return { gpa, len, writable: s.data === undefined };
    });
    let head: number;
    if (opts.indirect) {
      const table = this.nextIndirect;
      this.nextIndirect += 16 * buffers.length;
      buffers.forEach((b, i) => this.writeDesc(table, i, b.gpa, b.len,
        (b.writable ? C.VIRTQ_DESC_F_WRITE : 0) | (i < buffers.length - 1 ? C.VIRTQ_DESC_F_NEXT : 0), i + 1));
      head = this.takeDesc();
      this.writeDesc(DESC_GPA, head, table, 16 * buffers.length, C.VIRTQ_DESC_F_INDIRECT, 0);
    } else {
      const ids = buffers.map(() => this.takeDesc());
      buffers.forEach((b, i) => this.writeDesc(DESC_GPA, ids[i], b.gpa, b.len,
        (b.writable ? C.VIRTQ_DESC_F_WRITE : 0) | (i < buffers.length - 1 ? C.VIRTQ_DESC_F_NEXT : 0), ids[i + 1] ?? 0));
      head = ids[0];
    }
    this.makeAvailable(head);
    return { head, buffers };
  }

  makeAvailable(head: number): void {
    this.mem.writeU16(AVAIL_GPA + 4 + 2 * (this.availIdx % this.queueSize), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.writeU16(AVAIL_GPA + 2, this.availIdx);
  }

  private takeDesc(): number {
    const i = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.queueSize;
    return i;
  }

  notify(queue = 0): void {
    this.w(C.REG_QUEUE_NOTIFY, queue);
  }

  usedIdx(): number { return this.mem.readU16(USED_GPA + 2); }
  usedElem(i: number): { id: number; len: number } {
    const at = USED_GPA + 4 + 8 * (i % this.queueSize);
    return { id: this.mem.readU32(at), len: this.mem.readU32(at + 4) };
  }

  /** Used entries not yet consumed. */
  takeUsed(): { id: number; len: number }[] {
    const out = [];
    const idx = this.usedIdx();
    while (this.lastSeenUsed !== idx) {
      out.push(this.usedElem(this.lastSeenUsed));
      this.lastSeenUsed = (this.lastSeenUsed + 1) & 0xffff;
    }
    return out;
  }

  setUsedEvent(v: number): void { this.mem.writeU16(AVAIL_GPA + 4 + 2 * this.queueSize, v); }
  availEvent(): number { return this.mem.readU16(USED_GPA + 4 + 8 * this.queueSize); }
  setAvailFlags(v: number): void { this.mem.writeU16(AVAIL_GPA, v); }

  ackInterrupt(): number {
    const s = this.r(C.REG_INTERRUPT_STATUS);
    this.w(C.REG_INTERRUPT_ACK, s);
    return s;
  }

  get status(): number { return this.r(C.REG_STATUS); }
}
