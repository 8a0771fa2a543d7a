/**
 * The transmit path and guest mistakes: frames in pieces reach the network, bad frames
 * are dropped and counted, malformed chains mark the device NEEDS_RESET while the VMM
 * (this process) goes on, and a driver reset brings the device back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as C from '../../../src/devices/virtio/constants.js';
import { rarpAnnounceFrame } from '../../../src/net/announce.js';
import { MacAddress } from '../../../src/net/mac.js';
import { encodeVnetHeader, PLAIN_VNET_HEADER } from '../../../src/net/vnet-header.js';
import { netnsSkipReason } from '../../helpers/netns.js';
import { bridgeLearned, RecordingTap, until, withNetDevice } from './harness.js';
import { concat } from './net-driver.js';

const skip = netnsSkipReason();

function packetFrom(mac: MacAddress): Uint8Array {
  return concat([encodeVnetHeader(PLAIN_VNET_HEADER), rarpAnnounceFrame(mac)]);
}

test('a frame split over four descriptors goes out as one frame; the chain completes with length 0', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, device, driver }) => {
    driver.start();
    const mac = MacAddress.parse('52:54:00:aa:bb:01');
    const head = driver.transmit(packetFrom(mac), [3, 12, 13]);
    assert.equal(driver.tx.chains.get(head)!.length, 4);
    assert.ok(await until(() => bridgeLearned(net, mac)), 'the bridge saw the frame from that MAC');
    assert.deepEqual(driver.reapTransmitted(), [{ id: head, len: 0 }]);
    assert.deepEqual({ p: device.stats.txPackets, b: device.stats.txBytes, d: device.stats.txDropped }, { p: 1, b: 60, d: 0 });
  });
});

test('frames shorter than an Ethernet header are dropped and counted, the device keeps working', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, device, driver }) => {
    driver.start();
    driver.transmit(concat([encodeVnetHeader(PLAIN_VNET_HEADER), new Uint8Array(10)]));
    assert.equal(device.stats.txDropped, 1);
    assert.equal(driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
    const mac = MacAddress.parse('52:54:00:aa:bb:02');
    driver.transmit(packetFrom(mac));
    assert.ok(await until(() => bridgeLearned(net, mac)));
    assert.equal(driver.reapTransmitted().length, 2);
  });
});

const malformed: { name: string; post: (d: import('./net-driver.js').NetDriver) => void; reason: RegExp }[] = [
  {
    name: 'a chain shorter than the virtio header',
    post: (d) => d.transmit(new Uint8Array(4)),
    reason: /less than the 12-byte virtio_net_hdr/,
  },
  {
    name: 'a chain with a device-writable buffer',
    post: (d) => {
      d.tx.post([{ gpa: 0x90000, len: 72, writable: false }, { gpa: 0x91000, len: 16, writable: true }]);
      d.tx.notify();
    },
    reason: /device-writable buffers/,
  },
  {
    name: 'a buffer outside guest RAM',
    post: (d) => {
      d.tx.post([{ gpa: 0x7fff0000, len: 72, writable: false }]);
      d.tx.notify();
    },
    reason: /outside guest RAM/,
  },
];

for (const m of malformed) {
  test(`transmit: ${m.name} marks the device NEEDS_RESET; after a driver reset it works again`, { skip, timeout: 30_000 }, async () => {
    await withNetDevice(0, async ({ net, device, driver }) => {
      driver.start();
      m.post(driver);
      assert.ok(driver.status & C.STATUS_DEVICE_NEEDS_RESET, 'NEEDS_RESET');
      assert.ok(driver.drv.warnings.some((w) => m.reason.test(w)), driver.drv.warnings.join('; '));
      assert.ok(driver.drv.r(C.REG_INTERRUPT_STATUS) & C.INT_CONFIG_CHANGE, 'config interrupt tells the driver');

      driver.reset();
      driver.start();
      const mac = MacAddress.parse('52:54:00:aa:bb:03');
      driver.transmit(packetFrom(mac));
      assert.ok(await until(() => bridgeLearned(net, mac)), 'transmitting again after the reset');
      assert.equal(device.stats.txPackets, 1);
    });
  });
}

test('receive: a receive chain with a device-readable buffer marks the device NEEDS_RESET from the tap callback', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start();
    driver.rx.post([{ gpa: 0x20000, len: 64, writable: false }, { gpa: 0x21000, len: 1536, writable: true }]);
    driver.rx.notify();
    const client = net.clients[0];
    await net.exec(client, ['busybox', 'arping', '-U', '-c', '1', '-I', 'eth0', client.address]);
    assert.ok(await until(() => (driver.status & C.STATUS_DEVICE_NEEDS_RESET) !== 0), 'NEEDS_RESET');
    assert.ok(driver.drv.warnings.some((w) => /device-readable buffers/.test(w)), driver.drv.warnings.join('; '));
    assert.equal(device.stats.rxPackets, 0);
    await sleep(20); // the process is fine and the tap paused: nothing else happens
    assert.equal(device.stats.rxPackets, 0);
  });
});

/** A real tap whose next send reports "queued" (as Tap does on EAGAIN) until the test drains it. */
class BackPressureTap extends RecordingTap {
  blockNext = false;
  private drained?: Promise<void>;
  private drain?: () => void;
  override send(packet: readonly Uint8Array[]): boolean {
    const sent = super.send(packet);
    if (!this.blockNext) return sent;
    this.blockNext = false;
    this.drained = new Promise((resolve) => (this.drain = resolve));
    return false;
  }
  override whenDrained(): Promise<void> { return this.drained ?? Promise.resolve(); }
  release(): void { this.drained = undefined; this.drain?.(); }
}

test('when the tap has to queue, transmitting stops and resumes once it drains', { skip, timeout: 30_000 }, async () => {
  let tap!: BackPressureTap;
  await withNetDevice(0, async ({ net, device, driver }) => {
    driver.start();
    tap.blockNext = true;
    const macs = [4, 5, 6].map((n) => MacAddress.parse(`52:54:00:aa:bb:0${n}`));
    for (const mac of macs) driver.transmit(packetFrom(mac), [], false);
    driver.tx.notify();
    assert.equal(driver.reapTransmitted().length, 1, 'the queued packet completes, the rest wait');
    driver.tx.notify(); // a notify while blocked changes nothing
    assert.equal(device.stats.txPackets, 1);
    tap.release();
    await device.quiesce();
    assert.equal(driver.reapTransmitted().length, 2);
    assert.equal(device.stats.txPackets, 3);
    assert.ok(await until(() => macs.every((mac) => bridgeLearned(net, mac))), 'all three reached the network');
  }, (t) => (tap = new BackPressureTap(t)));
});
