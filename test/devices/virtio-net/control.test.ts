/**
 * Features, config space, offload negotiation, saved state and announcements, on a real
 * tap (a RecordingTap shows which offload flags the device gave it).
 */
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import * as C from '../../../src/devices/virtio/constants.js';
import { VirtioStateError } from '../../../src/devices/virtio/errors.js';
import * as P from '../../../src/devices/virtio-net/protocol.js';
import { VirtioNet } from '../../../src/devices/virtio-net/virtio-net.js';
import { TunOffload } from '../../../src/net/tun-constants.js';
import { netnsSkipReason } from '../../helpers/netns.js';
import { attachDevice, bridgeLearned, fakeGuestOver, until, withNetDevice } from './harness.js';

const skip = netnsSkipReason();
const { CSUM, TSO4, TSO6, UFO } = TunOffload;

test('device ID 1, two queues, MAC and link-up status in config space, offloads offered', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, device, driver, tap }) => {
    const t = driver.drv.transport;
    assert.equal(t.read(C.REG_DEVICE_ID, 4), C.VIRTIO_ID_NET);
    for (const q of [0, 1]) {
      t.write(C.REG_QUEUE_SEL, 4, q);
      assert.equal(t.read(C.REG_QUEUE_NUM_MAX, 4), 16);
    }
    t.write(C.REG_QUEUE_SEL, 4, 2);
    assert.equal(t.read(C.REG_QUEUE_NUM_MAX, 4), 0, 'no control queue');
    const mac = Uint8Array.from({ length: 6 }, (_, i) => Number(t.read(0x100 + i, 1)));
    assert.deepEqual(mac, net.guest.mac.bytes);
    assert.equal(t.read(0x100 + P.CFG_STATUS, 2), P.VIRTIO_NET_S_LINK_UP);
    const offered = driver.drv.deviceFeatures();
    for (const bit of [C.VIRTIO_F_VERSION_1, P.VIRTIO_NET_F_MAC, P.VIRTIO_NET_F_STATUS, P.VIRTIO_NET_F_MRG_RXBUF, P.VIRTIO_NET_F_CSUM,
      P.VIRTIO_NET_F_GUEST_CSUM, P.VIRTIO_NET_F_GUEST_TSO4, P.VIRTIO_NET_F_GUEST_TSO6, P.VIRTIO_NET_F_HOST_TSO4, P.VIRTIO_NET_F_HOST_TSO6]) {
      assert.ok(offered & bit, `offers bit ${bit.toString(2).length - 1}`);
    }
    // The kernel here accepts TUN_F_UFO (test/net/tap.test.ts), so UFO is offered after the probe.
    assert.deepEqual(tap.offloadCalls, [CSUM | UFO, 0], 'probed UFO, then left the tap at no offloads');
    assert.ok(offered & P.VIRTIO_NET_F_GUEST_UFO && offered & P.VIRTIO_NET_F_HOST_UFO);
    assert.equal(device.tapOffloads, 0);
  });
});

test('the tap gets exactly the receive offloads the driver accepted, and none after a reset', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ device, driver, tap }) => {
    const last = () => tap.offloadCalls.at(-1);
    driver.start();
    assert.equal(last(), CSUM | TSO4 | TSO6 | UFO);
    assert.equal(device.tapOffloads, CSUM | TSO4 | TSO6 | UFO);

    driver.reset();
    assert.equal(last(), 0, 'reset takes the offloads back');
    driver.start(P.VIRTIO_NET_F_GUEST_TSO6 | P.VIRTIO_NET_F_GUEST_UFO);
    assert.equal(last(), CSUM | TSO4);

    driver.reset();
    // Host (transmit) offloads need nothing from the tap.
    driver.start(P.VIRTIO_NET_F_GUEST_CSUM | P.VIRTIO_NET_F_GUEST_TSO4 | P.VIRTIO_NET_F_GUEST_TSO6 | P.VIRTIO_NET_F_GUEST_UFO);
    assert.equal(last(), 0);

    driver.reset();
    // A driver breaking §5.1.3.1 (TSO without GUEST_CSUM) gets finished packets, not a tap error.
    driver.start(P.VIRTIO_NET_F_GUEST_CSUM);
    assert.equal(last(), 0);
    assert.equal(driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
  });
});

test('state round trip onto a new tap: offloads re-applied, counters and held receive buffers kept, traffic flows', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver, tap }) => {
    driver.start(P.VIRTIO_NET_F_MRG_RXBUF);
    const [held] = driver.postRxBuffers(1, 128);
    const client = net.clients[0];
    await net.exec(client, ['ip', 'neigh', 'replace', net.guest.address, 'lladdr', net.guest.mac.toString(), 'dev', 'eth0', 'nud', 'permanent']);
    await net.exec(client, ['busybox', 'ping', '-c', '1', '-W', '1', '-s', '1000', net.guest.address]);
    assert.ok(await until(() => device.stats.rxDropped === 1), 'too big for the one buffer, which stays held');

    const saved = JSON.parse(JSON.stringify(driver.drv.transport.saveState()));
    const offloads = CSUM | TSO4 | TSO6 | UFO;
    assert.deepEqual(saved.device, {
      version: 1,
      mac: net.guest.mac.toString(),
      features: driver.negotiated.toString(),
      offloads,
      rxHeld: [held],
      counters: { ...device.stats },
    });
    tap.close(); // the source VM is gone; its tap is free for the destination

    const b = attachDevice(net);
    try {
      b.driver.adopt(driver);
      b.driver.drv.transport.restoreState(saved);
      assert.deepEqual(b.tap.offloadCalls, [CSUM | UFO, 0, offloads, offloads], 'probe, then restore and activation apply the saved offloads');
      assert.deepEqual(b.device.stats, device.stats);
      assert.deepEqual(b.device.saveState(), saved.device);

      b.driver.postRxBuffers(4, 1536);
      const { guest, link } = fakeGuestOver(b.driver, net.guest.mac, net.guest.address);
      try {
        const ping = await net.exec(client, ['busybox', 'ping', '-c', '2', '-W', '5', net.guest.address]);
        assert.equal(ping.status, 0, ping.stdout + ping.stderr + b.warnings.join('; '));
      } finally {
        link.stop();
      }
      assert.equal(guest.echoRequests.length, 2);
      assert.ok(link.received.length >= 2);
      assert.ok(b.driver.rx.chains.has(held) && b.device.saveState().rxHeld.length === 0, 'the held buffer was filled after the restore');
      assert.equal(b.driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
    } finally {
      b.tap.close();
    }
  });
});

test('restoreState names the bad field; a bad queue size is refused', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, device, tap }) => {
    const good = {
      version: 1, mac: net.guest.mac.toString(), features: (C.VIRTIO_F_VERSION_1 | P.VIRTIO_NET_F_GUEST_CSUM).toString(), offloads: CSUM,
      rxHeld: [3], counters: { rxPackets: 1, rxBytes: 60, rxDropped: 0, txPackets: 0, txBytes: 0, txDropped: 0, announcements: 0 },
    };
    device.restoreState(good);
    assert.equal(device.tapOffloads, CSUM);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ version: 2 }, /version 2 is not supported/],
      [{ mac: '52:54:00:00:00:99' }, /'mac' is 52:54:00:00:00:99 but this NIC has MAC 52:54:00:12:34:56: give the NIC the same mac=/],
      [{ features: String(1n << 17n) }, /'features' has .*0x20000.*does not offer/],
      [{ offloads: CSUM | TSO4 }, /'offloads' must be 0x1/],
      [{ rxHeld: [16] }, /'rxHeld\[0\]' must be an integer in 0\.\.15/],
      [{ rxHeld: [2, 2] }, /lists a descriptor twice/],
      [{ counters: { ...good.counters, txBytes: -1 } }, /'counters\.txBytes'/],
    ];
    for (const [change, message] of bad) {
      assert.throws(() => device.restoreState({ ...good, ...change }), (e: unknown) => e instanceof VirtioStateError && message.test(e.message), JSON.stringify(change));
    }
    assert.throws(() => new VirtioNet({ tap, mac: net.guest.mac, queueSize: 12 }), /queue size must be a power of two in 2\.\.32768, got 12/);
  });
});

test('announce(): RARP rounds from the guest MAC teach the bridge; stopAnnouncing() ends early', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, device, tap }) => {
    const before = tap.stats.sentPackets;
    const started = Date.now();
    await device.announce({ rounds: 3, initialMs: 20, stepMs: 10, maxMs: 100 });
    assert.ok(Date.now() - started >= 45, `rounds 20 ms and 30 ms apart (took ${Date.now() - started} ms)`);
    assert.equal(device.stats.announcements, 3);
    assert.equal(tap.stats.sentPackets - before, 3);
    assert.ok(bridgeLearned(net, net.guest.mac), 'works without a driver: announcing is the host side');

    const running = device.announce();
    device.stopAnnouncing();
    await running;
    assert.equal(device.stats.announcements, 4, 'only the immediate round');
  });
});

test('a fresh device model on the same open tap takes over receiving once the old one is reset (machine reset)', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device: old, driver: oldDriver, tap }) => {
    oldDriver.start();
    oldDriver.postRxBuffers(4, 1536);
    // Machine.teardown resets every transport before the next board's devices are built.
    oldDriver.drv.transport.hostReset();
    const fresh = attachDevice(net, {}, tap);
    fresh.driver.start();
    fresh.driver.postRxBuffers(8, 1536);
    const { guest, link } = fakeGuestOver(fresh.driver, net.guest.mac, net.guest.address);
    try {
      const ping = await net.exec(net.clients[0], ['busybox', 'ping', '-c', '2', '-W', '5', net.guest.address]);
      assert.equal(ping.status, 0, ping.stdout + ping.stderr);
    } finally {
      link.stop();
    }
    assert.equal(guest.echoRequests.length, 2);
    assert.equal(old.stats.rxPackets, 0, 'the replaced model gets nothing');
    assert.equal(fresh.driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
  });
});

test('a second device cannot receive from a tap another active device holds: NEEDS_RESET naming the cause', { skip, timeout: 30_000 }, async () => {
  await withNetDevice(0, async ({ net, driver, tap }) => {
    driver.start();
    const second = attachDevice(net, {}, tap);
    second.driver.start();
    assert.ok(second.driver.status & C.STATUS_DEVICE_NEEDS_RESET);
    assert.ok(second.driver.drv.warnings.some((w) => /already has a receiver: .*stopReceive/.test(w)), second.driver.drv.warnings.join('; '));
    // Once the first is reset (driver writes Status = 0), the second can take the tap.
    driver.reset();
    second.driver.reset();
    second.driver.start();
    assert.equal(second.driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
  });
});

test('a driver reset detaches the device from the tap; activation attaches it again', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start();
    driver.reset();
    const client = net.clients[0];
    await net.exec(client, ['ip', 'neigh', 'replace', net.guest.address, 'lladdr', net.guest.mac.toString(), 'dev', 'eth0', 'nud', 'permanent']);
    // Sent while the device is reset: the packet waits in the tap's kernel queue.
    await net.exec(client, ['busybox', 'ping', '-c', '1', '-W', '1', net.guest.address]);
    await sleep(50);
    assert.equal(device.stats.rxPackets + device.stats.rxDropped, 0, 'nothing read while reset');
    driver.start();
    driver.postRxBuffers(4, 1536);
    assert.ok(await until(() => device.stats.rxPackets === 1), 'the waiting echo request arrives after activation');
    assert.equal(driver.receive().length, 1);
  });
});
