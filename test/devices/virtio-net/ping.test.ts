/**
 * End to end on a real tap: a client namespace pings a guest whose driver is played by
 * the test (FakeGuest answering through the device's receive and transmit queues).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../../src/devices/virtio/constants.js';
import * as P from '../../../src/devices/virtio-net/protocol.js';
import { netnsSkipReason } from '../../helpers/netns.js';
import { fakeGuestOver, withNetDevice } from './harness.js';

const skip = netnsSkipReason();
const OFFLOADS = P.VIRTIO_NET_F_CSUM | P.VIRTIO_NET_F_GUEST_CSUM | P.VIRTIO_NET_F_GUEST_TSO4 | P.VIRTIO_NET_F_GUEST_TSO6
  | P.VIRTIO_NET_F_HOST_TSO4 | P.VIRTIO_NET_F_HOST_TSO6 | P.VIRTIO_NET_F_GUEST_UFO | P.VIRTIO_NET_F_HOST_UFO;

for (const variant of [
  { name: 'every feature (MRG_RXBUF, offloads)', without: 0n },
  { name: 'a plain driver (no MRG_RXBUF, no offloads, no event idx)', without: P.VIRTIO_NET_F_MRG_RXBUF | OFFLOADS | C.VIRTIO_F_RING_EVENT_IDX },
]) {
  test(`busybox ping from a client reaches the guest through virtio-net: ${variant.name}`, { skip, timeout: 60_000 }, async () => {
    await withNetDevice(1, async ({ net, device, driver, warnings }) => {
      driver.start(variant.without);
      const dirty: number[] = [];
      driver.mem.onWrite = (gpa) => dirty.push(gpa);
      const rxHeads = driver.postRxBuffers(8, 1536);
      const rxBuffers = rxHeads.map((h) => driver.rx.chains.get(h)![0]);
      const { guest, link } = fakeGuestOver(driver, net.guest.mac, net.guest.address);
      try {
        const ping = await net.exec(net.clients[0], ['busybox', 'ping', '-c', '3', '-W', '5', net.guest.address]);
        assert.equal(ping.status, 0, `ping failed:\n${ping.stdout}${ping.stderr}\nwarnings: ${warnings.join('; ')}`);
        assert.match(ping.stdout, /3 packets transmitted, 3 packets received/);
      } finally {
        link.stop();
      }
      link.poll();
      assert.ok(guest.arpRequests.some((r) => r.senderIp === net.clients[0].address && r.targetIp === net.guest.address), 'ARP request received');
      assert.equal(guest.echoRequests.length, 3);
      assert.equal(guest.badChecksums, 0);
      assert.ok(guest.headers.every((h) => h.numBuffers === 1), 'num_buffers is 1 for packets in one buffer (and without MRG_RXBUF)');

      const stats = device.stats;
      assert.ok(stats.rxPackets >= 4, `rx ${stats.rxPackets}`);
      assert.ok(stats.txPackets >= 4, `tx ${stats.txPackets}`);
      assert.equal(stats.rxDropped + stats.txDropped, 0);
      assert.ok(stats.rxBytes >= 42 + 3 * 98 && stats.txBytes >= 42 + 3 * 98, `bytes rx ${stats.rxBytes} tx ${stats.txBytes}`);
      assert.ok(driver.txCompleted.length >= 4 && driver.txCompleted.every((u) => u.len === 0), 'transmit chains complete with used length 0');
      assert.ok(dirty.some((gpa) => rxBuffers.some((b) => gpa >= b.gpa && gpa < b.gpa + b.len)), 'packet bytes written through GuestMemory');
      assert.equal(driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
      assert.ok(driver.drv.lineLevels.includes(true), 'the guest was interrupted');
    });
  });
}
