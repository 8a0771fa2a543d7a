/**
 * virtio network device (virtio 1.2 §5.1) on a tap: one receive queue (0) and one
 * transmit queue (1); no control queue and no multiqueue (VIRTIO_NET_F_CTRL_VQ / MQ are
 * not offered, so no promiscuous/VLAN filtering commands, no guest-driven announce).
 *
 * Features: MAC (config: mac), STATUS (link always up), MRG_RXBUF (num_buffers), the
 * checksum and TSO offloads both ways (CSUM, GUEST_CSUM, GUEST_TSO4/6, HOST_TSO4/6), and
 * GUEST_UFO/HOST_UFO when the tap accepts UFO. After negotiation the tap is told which
 * offloads the guest can receive (offloads.ts).
 *
 * Transmit: each chain goes to the tap as views of guest RAM (tx.ts); when the tap has to
 * queue, the device stops taking chains until it drains. Receive: the tap's packets are
 * copied into the posted buffers (rx.ts); when there are none, the packet is kept, the
 * tap paused, and both resume when the driver posts buffers and notifies the queue.
 * The device is the tap's receiver only while active (DRIVER_OK until reset): the tap
 * outlives device models (a machine reset builds a new one over the same open tap), and
 * before activation packets wait in the kernel's tap queue as for an unplugged NIC.
 *
 * Wiring: `new VirtioNet({ tap: Tap.open({ ifname }), mac })`, then a VirtioMmioTransport
 * like any virtio device (src/devices/virtio/README.md).
 */
import type { MacAddress } from '../../net/mac.js';
import type { AnnounceTiming } from '../../net/announce.js';
import { VNET_HEADER_SIZE } from '../../net/vnet-header.js';
import { VIRTIO_ID_NET, VIRTQ_MAX_SIZE } from '../virtio/constants.js';
import type { VirtioActivation, VirtioDevice } from '../virtio/device.js';
import { Announcer } from './announcer.js';
import type { NetBackend } from './backend.js';
import { offeredNetFeatures, tapAcceptsUfo, tapOffloadsFor } from './offloads.js';
import * as P from './protocol.js';
import { ReceiveBuffers } from './rx.js';
import { validateNetState, zeroCounters, type NetCounters, type VirtioNetState } from './state.js';
import { transmitChain } from './tx.js';

export interface VirtioNetOptions {
  /** The host side: an open Tap (`Tap.open({ ifname })`), which this device receives from from now on. */
  tap: NetBackend;
  /** The guest's MAC, in config space and in announcements. */
  mac: MacAddress;
  /** Size of each queue (power of two, 2..32768); default 256, as QEMU. */
  queueSize?: number;
  /** Host-side problems (tap read errors, failed announcements) for the VMM's log. */
  onWarning?: (message: string) => void;
}

export const DEFAULT_NET_QUEUE_SIZE = 256;
/** Transmit chains handled per turn of the event loop, so a busy guest cannot starve it. */
export const TX_BURST = 256;

/** One activation's bookkeeping; replaced on reset so late callbacks leave the old rings alone. */
interface Session {
  act: VirtioActivation;
  rx: ReceiveBuffers;
  /** A packet read from the tap that waits for receive buffers (the tap is paused meanwhile). */
  pending?: Uint8Array;
  /** Set while transmitting waits (tap draining, or the next turn after a burst). */
  txResume?: Promise<void>;
  /** The device met malformed guest data: everything stops until the driver resets it. */
  broken: boolean;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name = 'virtio-net';
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = P.CONFIG_SIZE;
  readonly mac: MacAddress;
  private readonly backend: NetBackend;
  private readonly warn: (message: string) => void;
  private readonly config = new Uint8Array(P.CONFIG_SIZE);
  private readonly counters: NetCounters = zeroCounters();
  /** Between quiesce() and thaw(): guest RAM must not change, so no packet is delivered. */
  private frozen = false;
  private readonly announcer: Announcer;
  private session?: Session;
  /** Negotiated features and the tap offloads they imply (0 until DRIVER_OK). */
  private negotiated = 0n;
  private offloads = 0;
  /** Receive chains a restored state recorded as held, taken again on activation. */
  private restoredHeld: number[] = [];
  /** Whether this device is the tap's receiver (from activation until reset). */
  private receiving = false;

  constructor(opts: VirtioNetOptions) {
    const queueSize = opts.queueSize ?? DEFAULT_NET_QUEUE_SIZE;
    if (!Number.isInteger(queueSize) || queueSize < 2 || queueSize > VIRTQ_MAX_SIZE || (queueSize & (queueSize - 1)) !== 0) {
      throw new RangeError(`virtio-net queue size must be a power of two in 2..${VIRTQ_MAX_SIZE}, got ${queueSize}`);
    }
    this.queueMaxSizes = [queueSize, queueSize];
    this.backend = opts.tap;
    this.mac = opts.mac;
    this.warn = opts.onWarning ?? (() => {});
    this.features = offeredNetFeatures(tapAcceptsUfo(this.backend));
    this.mac.writeTo(this.config, P.CFG_MAC);
    new DataView(this.config.buffer).setUint16(P.CFG_STATUS, P.VIRTIO_NET_S_LINK_UP, true);
    this.announcer = new Announcer(this.backend, () => this.counters.announcements++, this.warn);
  }

  /** Packet and byte counters (bytes of Ethernet frames, without the virtio header). */
  get stats(): Readonly<NetCounters> {
    return { ...this.counters };
  }

  /** TUNSETOFFLOAD flags currently given to the tap. */
  get tapOffloads(): number {
    return this.offloads;
  }

  /** True while a received packet waits for the driver to post receive buffers. */
  get waitingForReceiveBuffers(): boolean {
    return this.session?.pending !== undefined;
  }

  readConfig(offset: number, out: Uint8Array): void {
    out.set(this.config.subarray(offset, offset + out.length));
  }

  writeConfig(): void {
    // mac is read-only for virtio 1.x drivers (§5.1.4.2: changed only through the control queue).
  }

  activate(act: VirtioActivation): void {
    const offloads = tapOffloadsFor(act.features);
    this.backend.setOffloads(offloads); // a TapError here makes the transport mark the device broken
    this.offloads = offloads;
    // Also a TapError while another NIC model still holds the tap. Packets arrive from the
    // event loop only, so the session below exists before the first one.
    this.startReceiving();
    this.negotiated = act.features;
    const rx = new ReceiveBuffers(act.memory, act.queues[P.RX_QUEUE], {
      mergeable: (act.features & P.VIRTIO_NET_F_MRG_RXBUF) !== 0n,
      guestCsum: (act.features & P.VIRTIO_NET_F_GUEST_CSUM) !== 0n,
    });
    const s: Session = { act, rx, broken: false };
    this.session = s;
    const held = this.restoredHeld;
    this.restoredHeld = [];
    this.guarded(s, () => {
      rx.restoreHeld(held);
      this.transmit(s); // chains the driver posted before a restore
    });
  }

  processQueue(index: number): void {
    const s = this.session;
    if (!s || s.broken) return;
    // Errors propagate to the transport, which marks the device NEEDS_RESET.
    this.guarded(s, () => {
      if (index === P.RX_QUEUE) this.retryPending(s);
      else if (index === P.TX_QUEUE) this.transmit(s);
    });
  }

  reset(): void {
    if (this.session) this.session.broken = true; // stops its late callbacks
    this.session = undefined;
    this.restoredHeld = [];
    this.negotiated = 0n;
    this.stopReceiving(); // a packet held for buffers is lost, as on a NIC reset
    if (this.offloads !== 0) {
      this.offloads = 0;
      this.backend.setOffloads(0);
    }
  }

  /**
   * Broadcasts RARP announcements of the MAC (at once, then after each of announceDelays),
   * for migration and failover. Resolves after the last one, or when stopped or replaced.
   */
  announce(timing?: Readonly<AnnounceTiming>): Promise<void> {
    return this.announcer.announce(this.mac, timing);
  }

  stopAnnouncing(): void {
    this.announcer.stop();
  }

  /**
   * For a consistent snapshot: stops taking packets from the tap (they wait in the
   * kernel's queue, or one already read waits here) so nothing changes guest RAM while
   * the VM is frozen, and resolves when transmitting no longer waits for the tap.
   * thaw() undoes it.
   */
  async quiesce(): Promise<void> {
    this.frozen = true;
    this.backend.pauseReceive();
    for (let s = this.session; s?.txResume; s = this.session) await s.txResume;
  }

  /** The VM runs again after quiesce(): receive again (the waiting packet first). */
  thaw(): void {
    if (!this.frozen) return;
    this.frozen = false;
    const s = this.session;
    if (!s || s.broken) return;
    if (s.pending) this.retryPending(s);
    else this.backend.resumeReceive();
  }

  saveState(): VirtioNetState {
    return {
      version: 1,
      mac: this.mac.toString(),
      features: this.negotiated.toString(),
      offloads: this.offloads,
      rxHeld: [...this.restoredHeld, ...(this.session?.rx.held.map((c) => c.head) ?? [])],
      counters: { ...this.counters },
    };
  }

  restoreState(state: unknown): void {
    const v = validateNetState(state, { mac: this.mac, offered: this.features, rxQueueSize: this.queueMaxSizes[P.RX_QUEUE] });
    // The tap may be a new one (migration, failover): it must hand the guest what it negotiated.
    this.backend.setOffloads(v.offloads);
    this.offloads = v.offloads;
    this.negotiated = v.features;
    this.restoredHeld = v.rxHeld;
    Object.assign(this.counters, v.counters);
  }

  /** Makes this device the tap's receiver (a TapError if another NIC still holds the tap). */
  private startReceiving(): void {
    if (this.receiving) {
      this.backend.resumeReceive();
      return;
    }
    this.backend.receive((packet) => this.onPacket(packet), (e) => this.warn(`virtio-net: ${e.message}`));
    this.receiving = true;
  }

  private stopReceiving(): void {
    if (!this.receiving) return;
    this.receiving = false;
    this.backend.stopReceive();
  }

  /** The tap's receive callback (outside any transport frame: never throws). */
  private onPacket(packet: Uint8Array): void {
    const s = this.session;
    if (s && !s.broken && !s.pending && this.frozen) {
      // Read just before the pause took effect: it waits for thaw().
      s.pending = Uint8Array.from(packet);
      this.backend.pauseReceive();
      return;
    }
    if (!s || s.broken || s.pending) {
      // The tap is paused in these states; a packet it had already read is lost.
      this.counters.rxDropped++;
      this.backend.pauseReceive();
      return;
    }
    try {
      if (!this.deliver(s, packet)) {
        s.pending = Uint8Array.from(packet); // the tap reuses its buffer
        this.backend.pauseReceive();
      }
    } catch (e) {
      this.counters.rxDropped++;
      this.fail(s, e);
    }
  }

  /** The driver posted receive buffers: the waiting packet first, then the tap again. */
  private retryPending(s: Session): void {
    if (this.frozen || !s.pending || !this.deliver(s, s.pending)) return;
    s.pending = undefined;
    this.backend.resumeReceive();
  }

  /** True when the packet is done with (delivered or dropped), false when it must wait for buffers. */
  private deliver(s: Session, packet: Uint8Array): boolean {
    const placement = s.rx.place(packet);
    switch (placement.kind) {
      case 'delivered':
        this.counters.rxPackets++;
        this.counters.rxBytes += packet.length - VNET_HEADER_SIZE;
        s.act.interrupt.usedBuffers(P.RX_QUEUE);
        return true;
      case 'too-big':
        this.counters.rxDropped++;
        return true;
      case 'no-room':
        return false;
    }
  }

  private transmit(s: Session): void {
    if (s.txResume || s.broken) return;
    const { memory, queues, interrupt } = s.act;
    const q = queues[P.TX_QUEUE];
    if (!q.ready) return;
    let completed = 0;
    try {
      while (completed < TX_BURST) {
        const chain = q.pop(memory);
        if (!chain) return;
        const result = transmitChain(memory, chain, this.backend);
        q.pushUsed(memory, chain.head, 0);
        completed++;
        if (result.sent) {
          this.counters.txPackets++;
          this.counters.txBytes += result.frameBytes;
        } else {
          this.counters.txDropped++;
        }
        if (!result.backendReady) {
          this.resumeTransmitAfter(s, this.backend.whenDrained());
          return;
        }
      }
      this.resumeTransmitAfter(s, new Promise((resolve) => setImmediate(resolve)));
    } finally {
      if (completed > 0) interrupt.usedBuffers(P.TX_QUEUE);
    }
  }

  private resumeTransmitAfter(s: Session, ready: Promise<void>): void {
    s.txResume = ready.then(() => {
      s.txResume = undefined;
      if (this.session !== s || s.broken) return;
      try {
        this.transmit(s);
      } catch (e) {
        this.fail(s, e);
      }
    });
  }

  /** Runs `work`; on an error marks the session broken and rethrows (for the transport). */
  private guarded(s: Session, work: () => void): void {
    try {
      work();
    } catch (e) {
      s.broken = true;
      this.backend.pauseReceive();
      throw e;
    }
  }

  /** Malformed guest data met outside a transport frame: NEEDS_RESET, the VMM goes on. */
  private fail(s: Session, e: unknown): void {
    s.broken = true;
    this.backend.pauseReceive();
    s.act.interrupt.needsReset(`virtio-net: ${(e as Error).message}`);
  }
}
