/**
 * The tap back end of a NIC: one Linux tap interface, opened with IFF_VNET_HDR so
 * every packet read or written is a 12-byte virtio_net_hdr_v1 followed by an
 * Ethernet frame — exactly what virtio-net exchanges with the guest.
 *
 * Receiving uses the addon's fd watcher (one-shot, re-armed after the callback), so
 * the callback drains the fd until EAGAIN. A device with no room for more packets
 * calls pauseReceive() and resumeReceive() once the guest posts buffers (QEMU's
 * can_receive/qemu_flush_queued_packets): a paused tap leaves packets queued in the kernel.
 * A NIC that is reset or replaced (the tap outlives device models) calls stopReceive(),
 * and the next model attaches its own receiver.
 */
import { execFileSync } from 'node:child_process';
import { readSync, writeSync, writevSync } from 'node:fs';
import { native, type FdWatchHandle } from '../kvm/native.js';
import { TapError } from './errors.js';
import { VNET_HEADER_SIZE } from './vnet-header.js';
import {
  IFF_NO_PI,
  IFF_TAP,
  IFF_VNET_HDR,
  IFNAMSIZ,
  IFREQ_SIZE,
  O_NONBLOCK,
  O_RDWR,
  TUNSETIFF,
  TUNSETOFFLOAD,
  TUNSETVNETHDRSZ,
} from './tun-constants.js';

const TUN_DEVICE = '/dev/net/tun';
/** Largest packet the tap hands us: a 64 KiB GSO super-frame plus headers (QEMU's NET_BUFSIZE). */
const RECEIVE_BUFFER_SIZE = 65536 + 4096;
/** Packets kept while the tap refuses writes (EAGAIN); beyond this, sends are dropped like a full NIC queue. */
const MAX_QUEUED_SENDS = 256;
const SEND_RETRY_MS = 1;

export interface TapOptions {
  /** Interface name, at most 15 characters; a `%d` in it lets the kernel pick a free number. Default `tap%d`. */
  ifname?: string;
  /** Run `ip link set dev <name> up` after attaching (default true). */
  bringUp?: boolean;
}

/**
 * Called with each received packet: virtio_net_hdr_v1 (num_buffers zeroed: the tap
 * does not fill it) followed by the Ethernet frame. The bytes are only valid during
 * the call (the receive buffer is reused): copy them out before returning.
 */
export type TapPacketHandler = (packet: Uint8Array) => void;

export interface TapStats {
  sentPackets: number;
  receivedPackets: number;
  /** Sends the kernel rejected (link down, a malformed vnet header from the guest) or that overflowed the queue. */
  droppedSends: number;
  lastSendError?: string;
}

function validIfname(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) < IFNAMSIZ &&
    name !== '.' &&
    name !== '..' &&
    !/[/:\s]/.test(name)
  );
}

/** The errno name of a failed call, from the addon (NativeError) or from node:fs alike. */
function errnoCode(e: unknown): string | undefined {
  return e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
}

export class Tap {
  readonly name: string;
  readonly fd: number;
  /** Bytes of virtio_net_hdr_v1 in front of every frame, both directions. */
  readonly vnetHeaderSize = VNET_HEADER_SIZE;
  readonly stats: TapStats = { sentPackets: 0, receivedPackets: 0, droppedSends: 0 };

  private readonly receiveBuffer = Buffer.alloc(RECEIVE_BUFFER_SIZE);
  private handler?: TapPacketHandler;
  private onReceiveError?: (error: Error) => void;
  private watch?: FdWatchHandle;
  private paused = false;
  private readonly sendQueue: Buffer[] = [];
  private retryTimer?: NodeJS.Timeout;
  private drainWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(name: string, fd: number) {
    this.name = name;
    this.fd = fd;
  }

  /**
   * Attaches to the tap `ifname`, creating it when missing (needs CAP_NET_ADMIN), with
   * vnet headers on and all offloads off until setOffloads(). Throws TapError.
   */
  static open(options: TapOptions = {}): Tap {
    const requested = options.ifname ?? 'tap%d';
    if (!validIfname(requested)) {
      throw new TapError(`invalid tap name '${requested}': use 1-15 characters without '/', ':' or spaces (e.g. ifname=tap0)`);
    }
    let fd: number;
    try {
      fd = native().open(TUN_DEVICE, O_RDWR | O_NONBLOCK);
    } catch (e) {
      throw openError(requested, e);
    }
    try {
      const name = attach(fd, requested);
      setVnetHeaderSize(fd, VNET_HEADER_SIZE);
      native().ioctl(fd, TUNSETOFFLOAD, 0);
      if (options.bringUp ?? true) bringLinkUp(name);
      return new Tap(name, fd);
    } catch (e) {
      native().close(fd);
      throw e;
    }
  }

  /**
   * Which offloads the tap may hand us (TunOffload flags): set them to what the guest
   * driver accepted (GUEST_CSUM, GUEST_TSO4, ...); 0 makes the kernel checksum and
   * segment every packet before we read it.
   */
  setOffloads(flags: number): void {
    this.assertOpen();
    try {
      native().ioctl(this.fd, TUNSETOFFLOAD, flags);
    } catch (e) {
      throw new TapError(`tap '${this.name}' refused offload flags 0x${flags.toString(16)} (${errnoCode(e)}): this kernel lacks one of them; enable fewer guest offloads`);
    }
  }

  /**
   * Sends one packet (vnet header + frame), given whole or in pieces (e.g. views of
   * guest buffers; written with one writev, so the pieces form one packet).
   * Returns false when it had to be queued: stop sending until whenDrained().
   * The pieces may be reused as soon as this returns.
   */
  send(packet: Uint8Array | readonly Uint8Array[]): boolean {
    this.assertOpen();
    const pieces = packet instanceof Uint8Array ? [packet] : packet;
    if (this.sendQueue.length > 0) return this.enqueue(pieces);
    const result = this.write(pieces);
    return result === 'again' ? this.enqueue(pieces) : true;
  }

  /** Resolves once queued sends are written (at once when none are queued). */
  whenDrained(): Promise<void> {
    if (this.sendQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Starts delivering received packets to `handler` (unless paused). onError gets a read
   * failure other than EAGAIN (receiving then stops). One receiver at a time: a second
   * one (e.g. a new NIC model after a machine reset) can attach after stopReceive().
   */
  receive(handler: TapPacketHandler, onError?: (error: Error) => void): void {
    this.assertOpen();
    if (this.handler) {
      throw new TapError(`tap '${this.name}' already has a receiver: the NIC using it must stop receiving (stopReceive) before another attaches`);
    }
    this.handler = handler;
    this.onReceiveError = onError;
    if (!this.paused) this.startWatching();
  }

  /**
   * Detaches the receiver: no more calls to its handler, packets wait in the kernel's
   * queue, and the next receive() starts afresh (not paused). For a NIC that is reset or
   * replaced while the tap stays open. Safe inside the handler; a no-op without a receiver.
   */
  stopReceive(): void {
    this.stopWatching();
    this.handler = undefined;
    this.onReceiveError = undefined;
    this.paused = false;
  }

  /** Stops reading: packets wait in the kernel's queue (which drops when full). Safe inside the handler. */
  pauseReceive(): void {
    this.paused = true;
    this.stopWatching();
  }

  /** Reads again; already waiting packets are delivered soon after (the watcher fires at once). */
  resumeReceive(): void {
    this.paused = false;
    if (this.handler && !this.closed) this.startWatching();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWatching();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.sendQueue.length = 0;
    for (const wake of this.drainWaiters.splice(0)) wake();
    native().close(this.fd);
  }

  private assertOpen(): void {
    if (this.closed) throw new TapError(`tap '${this.name}' is closed`);
  }

  private write(pieces: readonly Uint8Array[]): 'sent' | 'again' | 'dropped' {
    try {
      if (pieces.length === 1) writeSync(this.fd, pieces[0]);
      else writevSync(this.fd, pieces as Uint8Array[]);
      this.stats.sentPackets++;
      return 'sent';
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EAGAIN') return 'again';
      // Like a NIC: a packet the network cannot take (link down, bad offload header) is lost, not fatal.
      this.stats.droppedSends++;
      this.stats.lastSendError = code ?? String(e);
      return 'dropped';
    }
  }

  private enqueue(pieces: readonly Uint8Array[]): false {
    if (this.sendQueue.length >= MAX_QUEUED_SENDS) {
      this.stats.droppedSends++;
      this.stats.lastSendError = 'send queue full';
    } else {
      // A copy: the caller may hand the guest its buffers back right away.
      this.sendQueue.push(Buffer.concat(pieces));
    }
    this.scheduleRetry();
    return false;
  }

  // The tap has no "writable" notification through the watcher, and EAGAIN on a tap
  // write is rare (its socket send buffer is unlimited), so a short timer retries.
  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushQueue();
    }, SEND_RETRY_MS);
  }

  private flushQueue(): void {
    while (this.sendQueue.length > 0 && !this.closed) {
      if (this.write([this.sendQueue[0]]) === 'again') {
        this.scheduleRetry();
        return;
      }
      this.sendQueue.shift();
    }
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  private startWatching(): void {
    if (this.watch) return;
    this.watch = native().watchFd(this.fd, () => this.drainReceived());
  }

  private stopWatching(): void {
    if (!this.watch) return;
    native().unwatchFd(this.watch);
    this.watch = undefined;
  }

  /** The watcher's callback: read until EAGAIN, or until the device pauses us. */
  private drainReceived(): void {
    while (this.watch && this.handler) {
      let length: number;
      try {
        length = readSync(this.fd, this.receiveBuffer, 0, RECEIVE_BUFFER_SIZE, null);
      } catch (e) {
        if (errnoCode(e) === 'EAGAIN') return;
        this.stopWatching();
        const error = new TapError(`reading tap '${this.name}' failed (${errnoCode(e) ?? e}): was the interface deleted?`);
        if (this.onReceiveError) this.onReceiveError(error);
        else throw error;
        return;
      }
      if (length < VNET_HEADER_SIZE) continue;
      // The kernel writes the 10-byte legacy header and skips num_buffers: don't leak the previous packet's bytes.
      this.receiveBuffer[10] = 0;
      this.receiveBuffer[11] = 0;
      this.stats.receivedPackets++;
      this.handler(this.receiveBuffer.subarray(0, length));
    }
  }
}

/** TUNSETIFF with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR; returns the name the kernel gave the interface. */
function attach(fd: number, requested: string): string {
  const ifreq = Buffer.alloc(IFREQ_SIZE);
  ifreq.write(requested, 0, IFNAMSIZ - 1, 'utf8');
  ifreq.writeUInt16LE(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFNAMSIZ);
  try {
    native().ioctl(fd, TUNSETIFF, ifreq);
  } catch (e) {
    throw attachError(requested, e);
  }
  const end = ifreq.indexOf(0);
  return ifreq.toString('utf8', 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

/** TUNSETVNETHDRSZ takes a pointer to an int. */
function setVnetHeaderSize(fd: number, size: number): void {
  const value = Buffer.alloc(4);
  value.writeInt32LE(size);
  native().ioctl(fd, TUNSETVNETHDRSZ, value);
}

function openError(name: string, e: unknown): TapError {
  switch (errnoCode(e)) {
    case 'ENOENT':
    case 'ENODEV':
      return new TapError(`cannot open tap '${name}': ${TUN_DEVICE} is missing: load the tun module (modprobe tun)`);
    case 'EACCES':
    case 'EPERM':
      return notPermitted(name);
    default:
      return new TapError(`cannot open tap '${name}': ${TUN_DEVICE}: ${(e as Error).message}`);
  }
}

function attachError(name: string, e: unknown): TapError {
  switch (errnoCode(e)) {
    case 'EBUSY':
      return new TapError(
        `tap '${name}' is busy: another process has it open (a single-queue tap has one owner): stop that process or choose another ifname=`,
      );
    case 'EPERM':
    case 'EACCES':
      return notPermitted(name);
    case 'EINVAL':
      return new TapError(`cannot use '${name}' as a tap: an interface of another kind (or a multi-queue tap) has that name: choose another ifname=`);
    default:
      return new TapError(`cannot attach tap '${name}': ${(e as Error).message}`);
  }
}

function notPermitted(name: string): TapError {
  return new TapError(
    `not permitted to open tap '${name}': run cuju as root (CAP_NET_ADMIN), or create the tap for your user first: ip tuntap add dev ${name.replace('%d', '0')} mode tap user $USER`,
  );
}

function bringLinkUp(name: string): void {
  try {
    execFileSync('ip', ['link', 'set', 'dev', name, 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new TapError(`cannot bring tap '${name}' up (ip link set dev ${name} up: ${stderr || (e as Error).message}): run as root or bring it up yourself`);
  }
}
