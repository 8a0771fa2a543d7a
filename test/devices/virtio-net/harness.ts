/**
 * Setting up virtio-net tests on a real tap in a private test network (root only):
 * the device over a RecordingTap, the guest driver, and a link that lets FakeGuest
 * (test/net/fake-guest.ts) answer ARP and ping through the device's queues.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NetBackend } from '../../../src/devices/virtio-net/backend.js';
import { VirtioNet, type VirtioNetOptions } from '../../../src/devices/virtio-net/virtio-net.js';
import type { MacAddress } from '../../../src/net/mac.js';
import { Tap, type TapPacketHandler } from '../../../src/net/tap.js';
import { withTestNetwork, type TestNetwork } from '../../helpers/netns.js';
import { FakeGuest } from '../../net/fake-guest.js';
import { concat, NetDriver } from './net-driver.js';

/** A real tap that also records the offload flags it is given. */
export class RecordingTap implements NetBackend {
  readonly offloadCalls: number[] = [];
  constructor(readonly tap: Tap) {}
  get name(): string { return this.tap.name; }
  get stats() { return this.tap.stats; }
  send(packet: readonly Uint8Array[]): boolean { return this.tap.send(packet); }
  whenDrained(): Promise<void> { return this.tap.whenDrained(); }
  receive(handler: TapPacketHandler, onError?: (error: Error) => void): void { this.tap.receive(handler, onError); }
  stopReceive(): void { this.tap.stopReceive(); }
  pauseReceive(): void { this.tap.pauseReceive(); }
  resumeReceive(): void { this.tap.resumeReceive(); }
  setOffloads(flags: number): void {
    this.offloadCalls.push(flags);
    this.tap.setOffloads(flags);
  }
  close(): void { this.tap.close(); }
}

export interface NetSetup {
  net: TestNetwork;
  tap: RecordingTap;
  device: VirtioNet;
  driver: NetDriver;
  warnings: string[];
}

export const QUEUE_SIZE = 16;

/** A device on a fresh tap of `net` with its (not yet started) driver. */
export function attachDevice(
  net: TestNetwork,
  options: Partial<VirtioNetOptions> = {},
  tap = new RecordingTap(Tap.open({ ifname: net.tap.name })),
): Omit<NetSetup, 'net'> {
  const warnings: string[] = [];
  const device = new VirtioNet({ tap, mac: net.guest.mac, queueSize: QUEUE_SIZE, onWarning: (m) => warnings.push(m), ...options });
  return { tap, device, driver: new NetDriver(device, QUEUE_SIZE), warnings };
}

/** Runs `fn` on a test network with a device attached to its tap; closes the tap afterwards. */
export async function withNetDevice(
  clients: number,
  fn: (setup: NetSetup) => Promise<void>,
  wrapTap: (tap: Tap) => RecordingTap = (tap) => new RecordingTap(tap),
): Promise<void> {
  await withTestNetwork({ clients }, async (net) => {
    const setup = { net, ...attachDevice(net, {}, wrapTap(Tap.open({ ifname: net.tap.name }))) };
    try {
      await fn(setup);
    } finally {
      setup.device.stopAnnouncing();
      setup.tap.close();
    }
  });
}

/**
 * FakeGuest talks to a Tap (receive/send); this gives it the same two calls over the
 * guest driver: received packets come from the receive ring, replies go out through the
 * transmit ring split over three descriptors at awkward offsets (inside the header and
 * inside the Ethernet header), so the device must join pieces.
 */
export class GuestLink {
  private handler?: TapPacketHandler;
  private timer?: NodeJS.Timeout;
  readonly received: Uint8Array[] = [];

  constructor(private readonly driver: NetDriver) {}

  receive(handler: TapPacketHandler): void {
    this.handler = handler;
  }

  send(packet: Uint8Array | readonly Uint8Array[]): boolean {
    this.driver.transmit(packet instanceof Uint8Array ? packet : concat(packet), [5, 20]);
    return true;
  }

  /** Polls the rings like an interrupt handler would (every 2 ms). */
  start(guest: { start(): void }): void {
    guest.start();
    this.timer = setInterval(() => this.poll(), 2);
  }

  poll(): void {
    this.driver.drv.ackInterrupt();
    for (const p of this.driver.receive()) {
      this.received.push(p.bytes);
      this.handler?.(p.bytes);
    }
    this.driver.reapTransmitted();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A FakeGuest answering ARP and ping for `mac`/`ip` through the device's queues. */
export function fakeGuestOver(driver: NetDriver, mac: MacAddress, ip: string): { guest: FakeGuest; link: GuestLink } {
  const link = new GuestLink(driver);
  // FakeGuest only calls receive() and send(), which GuestLink provides.
  const guest = new FakeGuest(link as unknown as Tap, mac, ip);
  link.start(guest);
  return { guest, link };
}

/** Whether the bridge has learned `mac` on the tap (after the guest sent from it). */
export function bridgeLearned(net: TestNetwork, mac: MacAddress): boolean {
  const fdb = JSON.parse(execFileSync('bridge', ['-j', 'fdb', 'show', 'br', net.bridge.name], { encoding: 'utf8' })) as { mac: string; ifname: string }[];
  return fdb.some((e) => e.mac === mac.toString() && e.ifname === net.tap.name);
}

/** Waits until `done()` or `ms` pass; returns done(). */
export async function until(done: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; !done() && waited < ms; waited += 5) await sleep(5);
  return done();
}
