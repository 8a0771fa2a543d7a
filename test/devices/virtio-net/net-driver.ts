/**
 * Plays the guest's virtio-net driver in tests: the core's FakeDriver does the register
 * handshake over a GuestMemory of 1 MiB; this adds the two rings virtio-net needs
 * (receive 0, transmit 1, at their own addresses), posts receive buffers, transmits
 * packets split over several descriptors, and reads received packets back (following
 * num_buffers with MRG_RXBUF).
 */
import assert from 'node:assert/strict';
import * as C from '../../../src/devices/virtio/constants.js';
import type { VirtioNet } from '../../../src/devices/virtio-net/virtio-net.js';
import { VIRTIO_NET_F_MRG_RXBUF } from '../../../src/devices/virtio-net/protocol.js';
import { decodeVnetHeader, VNET_HEADER_SIZE, type VnetHeader } from '../../../src/net/vnet-header.js';
import { FakeDriver } from '../virtio/fake-driver.js';

interface Buffer_ {
  gpa: number;
  len: number;
  writable: boolean;
}

/** A region of guest RAM handed out front to back, starting over when it runs out. */
class Arena {
  next: number;
  constructor(private readonly start: number, private readonly end: number) {
    this.next = start;
  }
  alloc(len: number): number {
    const size = Math.max(16, Math.ceil(len / 16) * 16);
    if (this.next + size > this.end) this.next = this.start;
    if (this.start + size > this.end) throw new RangeError(`test arena too small for ${len} bytes`);
    const gpa = this.next;
    this.next += size;
    return gpa;
  }
}

/** The driver side of one split ring laid out at `base`. */
export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private free: number[];
  /** Buffers of each chain in flight, by head. */
  readonly chains = new Map<number, Buffer_[]>();
  private availIdx = 0;
  private lastSeenUsed = 0;

  constructor(private readonly drv: FakeDriver, readonly index: number, readonly size: number, base: number) {
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = Math.ceil((this.avail + 6 + 2 * size) / 4) * 4;
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  /** Fresh, zeroed rings (as a driver allocates them) registered with the device. */
  setup(): void {
    const { drv } = this;
    drv.mem.fill(this.desc, this.used + 6 + 8 * this.size - this.desc);
    drv.w(C.REG_QUEUE_SEL, this.index);
    drv.w(C.REG_QUEUE_NUM, this.size);
    drv.w(C.REG_QUEUE_DESC_LOW, this.desc);
    drv.w(C.REG_QUEUE_DRIVER_LOW, this.avail);
    drv.w(C.REG_QUEUE_DEVICE_LOW, this.used);
    drv.w(C.REG_QUEUE_READY, 1);
  }

  get freeDescriptors(): number {
    return this.free.length;
  }

  /** Writes a chain of descriptors for `buffers` and makes it available; returns its head. */
  post(buffers: Buffer_[]): number {
    assert.ok(buffers.length <= this.free.length, `queue ${this.index}: out of descriptors`);
    const ids = buffers.map(() => this.free.shift()!);
    buffers.forEach((b, i) => this.drv.writeDesc(this.desc, ids[i], b.gpa, b.len,
      (b.writable ? C.VIRTQ_DESC_F_WRITE : 0) | (i < ids.length - 1 ? C.VIRTQ_DESC_F_NEXT : 0), ids[i + 1] ?? 0));
    this.chains.set(ids[0], buffers);
    this.makeAvailable(ids[0]);
    return ids[0];
  }

  /** Makes a chain available again with the same descriptors (reposting a receive buffer). */
  makeAvailable(head: number): void {
    const mem = this.drv.mem;
    mem.writeU16(this.avail + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    mem.writeU16(this.avail + 2, this.availIdx);
  }

  /** Used entries not seen yet. */
  takeUsed(): { id: number; len: number }[] {
    const mem = this.drv.mem;
    const out = [];
    const idx = mem.readU16(this.used + 2);
    while (this.lastSeenUsed !== idx) {
      const at = this.used + 4 + 8 * (this.lastSeenUsed % this.size);
      out.push({ id: mem.readU32(at), len: mem.readU32(at + 4) });
      this.lastSeenUsed = (this.lastSeenUsed + 1) & 0xffff;
    }
    return out;
  }

  /** Returns a finished chain's descriptors to the free list. */
  release(head: number): void {
    const buffers = this.chains.get(head);
    assert.ok(buffers, `queue ${this.index}: device returned head ${head}, which is not in flight`);
    this.chains.delete(head);
    let id = head;
    for (let i = 0; i < buffers.length; i++) {
      this.free.push(id);
      id = this.drv.mem.readU16(this.desc + 16 * id + 14);
    }
  }

  notify(): void {
    this.drv.notify(this.index);
  }

  copyFrom(other: DriverQueue): void {
    this.free = [...other.free];
    this.chains.clear();
    for (const [head, buffers] of other.chains) this.chains.set(head, buffers);
    this.availIdx = other.availIdx;
    this.lastSeenUsed = other.lastSeenUsed;
  }
}

export interface ReceivedPacket {
  header: VnetHeader;
  /** The virtio header then the frame, as the guest's network stack would see them. */
  bytes: Uint8Array;
  frame: Uint8Array;
  /** The used entries it came in (several with MRG_RXBUF). */
  used: { id: number; len: number }[];
}

const RX_RING = 0x1000;
const TX_RING = 0x4000;
const RX_ARENA: [number, number] = [0x10000, 0x80000];
const TX_ARENA: [number, number] = [0x80000, 0x100000];

export class NetDriver {
  readonly drv: FakeDriver;
  rx: DriverQueue;
  tx: DriverQueue;
  private readonly rxArena = new Arena(...RX_ARENA);
  private readonly txArena = new Arena(...TX_ARENA);
  /** Used receive entries read but not yet assembled into a packet (a merged packet arriving). */
  private readonly rxBacklog: { id: number; len: number }[] = [];
  txCompleted: { id: number; len: number }[] = [];

  constructor(readonly device: VirtioNet, queueSize = 16) {
    this.drv = new FakeDriver(device, queueSize);
    this.rx = new DriverQueue(this.drv, 0, queueSize, RX_RING);
    this.tx = new DriverQueue(this.drv, 1, queueSize, TX_RING);
  }

  get mem() { return this.drv.mem; }
  get status(): number { return this.drv.status; }
  get negotiated(): bigint { return this.drv.transport.negotiatedFeatures; }
  get mergeable(): boolean { return (this.negotiated & VIRTIO_NET_F_MRG_RXBUF) !== 0n; }

  /** The §3.1.1 sequence with the device's features minus `without`, both queues set up. */
  start(without = 0n): void {
    const status = this.drv.negotiate(this.drv.deviceFeatures() & ~without);
    assert.ok(status & C.STATUS_FEATURES_OK, 'device accepted the features');
    this.rx.setup();
    this.tx.setup();
    this.drv.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK | C.STATUS_DRIVER_OK);
  }

  /** Driver reset (Status = 0): the device forgets everything, and so does this driver. */
  reset(): void {
    this.drv.w(C.REG_STATUS, 0);
    this.rx = new DriverQueue(this.drv, 0, this.rx.size, RX_RING);
    this.tx = new DriverQueue(this.drv, 1, this.tx.size, TX_RING);
    this.rxBacklog.length = 0;
  }

  /**
   * Becomes the same guest as `source` on another device (a restore): copies guest RAM and
   * the driver's ring bookkeeping; the caller then restores the transport state.
   */
  adopt(source: NetDriver): void {
    this.drv.bytes.set(source.drv.bytes);
    this.rx.copyFrom(source.rx);
    this.tx.copyFrom(source.tx);
    this.rxBacklog.splice(0, this.rxBacklog.length, ...source.rxBacklog);
    this.rxArena.next = source.rxArena.next;
    this.txArena.next = source.txArena.next;
  }

  /** Posts `count` receive buffers of `size` bytes, one descriptor each, and notifies. */
  postRxBuffers(count: number, size: number): number[] {
    const heads = Array.from({ length: count }, () => this.rx.post([{ gpa: this.rxArena.alloc(size), len: size, writable: true }]));
    this.rx.notify();
    return heads;
  }

  /** Sends one packet (virtio header + frame) split into descriptors at `cuts`; notifies unless told not to. */
  transmit(packet: Uint8Array, cuts: readonly number[] = [], notify = true): number {
    const bounds = [0, ...cuts.filter((c) => c > 0 && c < packet.length), packet.length];
    const buffers = bounds.slice(1).map((end, i) => {
      const piece = packet.subarray(bounds[i], end);
      const gpa = this.txArena.alloc(piece.length);
      this.mem.write(gpa, piece);
      return { gpa, len: piece.length, writable: false };
    });
    const head = this.tx.post(buffers);
    if (notify) this.tx.notify();
    return head;
  }

  /** Collects finished transmit chains and frees their descriptors. */
  reapTransmitted(): { id: number; len: number }[] {
    const done = this.tx.takeUsed();
    for (const u of done) this.tx.release(u.id);
    this.txCompleted.push(...done);
    return done;
  }

  /**
   * Received packets since the last call. With MRG_RXBUF a packet is num_buffers used
   * entries; `repost` makes each buffer available again afterwards (as Linux refills).
   */
  receive(repost = true): ReceivedPacket[] {
    this.rxBacklog.push(...this.rx.takeUsed());
    const packets: ReceivedPacket[] = [];
    while (this.rxBacklog.length > 0) {
      const first = this.rxBacklog[0];
      const header = decodeVnetHeader(this.rxBytes(first));
      const count = this.mergeable ? header.numBuffers : 1;
      assert.ok(count >= 1, `num_buffers is ${header.numBuffers}`);
      assert.ok(this.rxBacklog.length >= count, `packet in ${count} buffers but only ${this.rxBacklog.length} used entries are published`);
      const used = this.rxBacklog.splice(0, count);
      const bytes = concat(used.map((u) => this.rxBytes(u)));
      packets.push({ header, bytes, frame: bytes.subarray(VNET_HEADER_SIZE), used });
      for (const u of used) {
        if (repost) this.rx.makeAvailable(u.id);
        else this.rx.release(u.id);
      }
    }
    if (repost && packets.length > 0) this.rx.notify();
    return packets;
  }

  private rxBytes(u: { id: number; len: number }): Uint8Array {
    const buffers = this.rx.chains.get(u.id);
    assert.ok(buffers, `used receive head ${u.id} was never posted`);
    const out = new Uint8Array(u.len);
    let at = 0;
    for (const b of buffers) {
      const n = Math.min(b.len, u.len - at);
      out.set(this.mem.read(b.gpa, n), at);
      at += n;
      if (at === u.len) break;
    }
    return out;
  }
}

export function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
