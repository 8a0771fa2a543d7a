/**
 * The receive path on a real tap: running out of buffers pauses the tap and loses
 * nothing; MRG_RXBUF spreads a packet over buffers with the right num_buffers; packets
 * the buffers can never hold are dropped and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import * as C from '../../../src/devices/virtio/constants.js';
import * as P from '../../../src/devices/virtio-net/protocol.js';
import { decodeArpFrame } from '../../../src/net/arp.js';
import { ETHERNET_HEADER_SIZE, EtherType, readEthernetHeader } from '../../../src/net/ethernet.js';
import { internetChecksum } from '../../../src/net/internet-checksum.js';
import { ipv4FromBytes } from '../../../src/net/ipv4-address.js';
import { VNET_HEADER_SIZE } from '../../../src/net/vnet-header.js';
import { netnsSkipReason, type TestNetwork } from '../../helpers/netns.js';
import { until, withNetDevice } from './harness.js';
import type { NetDriver, ReceivedPacket } from './net-driver.js';

const skip = netnsSkipReason();

/** Three broadcast gratuitous ARPs from the client, one a second. */
async function arpingThree(net: TestNetwork): Promise<void> {
  const client = net.clients[0];
  const r = await net.exec(client, ['busybox', 'arping', '-U', '-c', '3', '-I', 'eth0', client.address]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

/** One ICMP echo request of `payload` bytes to the guest (the client knows its MAC, so no ARP). */
async function pingOnce(net: TestNetwork, payload: number): Promise<void> {
  // Payload: a timestamp, then the pattern byte 0xa5.
  const client = net.clients[0];
  await net.exec(client, ['ip', 'neigh', 'replace', net.guest.address, 'lladdr', net.guest.mac.toString(), 'dev', 'eth0', 'nud', 'permanent']);
  // Nobody answers: only the request matters.
  await net.exec(client, ['busybox', 'ping', '-c', '1', '-W', '1', '-s', String(payload), '-p', 'a5', net.guest.address]);
}

function isEchoRequestToGuest(net: TestNetwork, frame: Uint8Array): boolean {
  return readEthernetHeader(frame).etherType === EtherType.IPV4
    && ipv4FromBytes(frame, ETHERNET_HEADER_SIZE + 16) === net.guest.address
    && frame[ETHERNET_HEADER_SIZE + 20] === 8;
}

function arpsFromClient(net: TestNetwork, packets: ReceivedPacket[]): number {
  return packets.filter((p) => decodeArpFrame(p.frame)?.arp.senderIp === net.clients[0].address).length;
}

async function receiveSettled(driver: NetDriver, repost = false): Promise<ReceivedPacket[]> {
  await sleep(50);
  return driver.receive(repost);
}

test('with no receive buffers left the tap is paused and resumed when the guest posts more: nothing lost', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver, tap }) => {
    driver.start();
    driver.postRxBuffers(1, 1536);
    await arpingThree(net);
    const first = await receiveSettled(driver);
    assert.equal(arpsFromClient(net, first), 1, 'one buffer, one packet');
    assert.ok(device.waitingForReceiveBuffers);
    assert.equal(tap.stats.receivedPackets, 2, 'the tap read the packet that waits and left the third in the kernel');

    driver.postRxBuffers(1, 1536);
    const second = await receiveSettled(driver);
    assert.equal(arpsFromClient(net, second), 1, 'the waiting packet went into the new buffer');
    assert.ok(await until(() => tap.stats.receivedPackets === 3), 'the tap resumed and read the third');
    assert.ok(device.waitingForReceiveBuffers, 'which waits again');

    driver.postRxBuffers(1, 1536);
    const third = await receiveSettled(driver);
    assert.equal(arpsFromClient(net, third), 1);
    assert.equal(device.waitingForReceiveBuffers, false);
    assert.equal(device.stats.rxDropped, 0);
    assert.equal(device.stats.rxPackets, 3);
  });
});

test('MRG_RXBUF: a 1054-byte packet fills five 256-byte buffers, num_buffers 5, published together', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start();
    driver.postRxBuffers(8, 256);
    const publishedUsedIdx: number[] = [];
    driver.mem.onWrite = (gpa) => {
      if (gpa === driver.rx.used + 2) publishedUsedIdx.push(driver.mem.readU16(gpa));
    };
    await pingOnce(net, 1000);
    const all = await receiveSettled(driver);
    assert.equal(publishedUsedIdx.length, all.length, `one used-index update per packet (${publishedUsedIdx})`);
    const packets = all.filter((p) => isEchoRequestToGuest(net, p.frame));
    assert.equal(packets.length, 1);
    const [echo] = packets;
    const frameLength = ETHERNET_HEADER_SIZE + 20 + 8 + 1000;
    assert.equal(echo.header.numBuffers, 5);
    assert.deepEqual(echo.used.map((u) => u.len), [256, 256, 256, 256, VNET_HEADER_SIZE + frameLength - 4 * 256]);
    assert.equal(echo.frame.length, frameLength);
    assert.deepEqual(echo.frame.subarray(0, 6), net.guest.mac.bytes);
    const icmp = ETHERNET_HEADER_SIZE + 20;
    assert.equal(internetChecksum(echo.frame, icmp, frameLength), 0, 'ICMP checksum over the joined buffers verifies');
    assert.ok(echo.frame.subarray(icmp + 8 + 8).every((b) => b === 0xa5), 'payload pattern intact across buffers');
    assert.equal(device.stats.rxDropped, 0);
    assert.ok(device.stats.rxBytes >= frameLength);
  });
});

test('without MRG_RXBUF a packet larger than the buffer is dropped and counted; the buffer serves the next packet', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start(P.VIRTIO_NET_F_MRG_RXBUF);
    const [head] = driver.postRxBuffers(1, 128);
    await pingOnce(net, 1000);
    await sleep(50);
    assert.equal(device.stats.rxDropped, 1);
    assert.deepEqual(driver.receive(false), []);
    assert.equal(device.waitingForReceiveBuffers, false, 'dropped, not waiting');
    await pingOnce(net, 56);
    const packets = (await receiveSettled(driver)).filter((p) => isEchoRequestToGuest(net, p.frame));
    assert.equal(packets.length, 1, 'a 98-byte frame fits');
    assert.equal(packets[0].used[0].id, head);
    assert.equal(packets[0].header.numBuffers, 1);
  });
});

test('MRG_RXBUF: a packet larger than the whole ring can hold is dropped; the buffers stay for smaller ones', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start();
    driver.postRxBuffers(16, 64); // the whole ring: 1 KiB
    await pingOnce(net, 1400);
    await sleep(50);
    assert.equal(device.stats.rxDropped, 1);
    assert.equal(device.waitingForReceiveBuffers, false);
    await pingOnce(net, 56);
    const packets = (await receiveSettled(driver)).filter((p) => isEchoRequestToGuest(net, p.frame));
    assert.equal(packets.length, 1);
    assert.equal(packets[0].header.numBuffers, 2, '12 + 98 bytes in 64-byte buffers');
    assert.equal(driver.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
  });
});

test('quiesce() for a snapshot: no packet reaches guest RAM until thaw(), then all of them do, none lost', { skip, timeout: 60_000 }, async () => {
  await withNetDevice(1, async ({ net, device, driver }) => {
    driver.start();
    driver.postRxBuffers(8, 1536);
    await device.quiesce();
    await arpingThree(net);
    const frozen = await receiveSettled(driver);
    assert.equal(arpsFromClient(net, frozen), 0, 'frozen: guest RAM untouched');
    assert.equal(device.stats.rxPackets, 0);
    device.thaw();
    assert.ok(await until(() => device.stats.rxPackets >= 3), 'thawed: the waiting packets arrive');
    const after = await receiveSettled(driver);
    assert.equal(arpsFromClient(net, after), 3);
    assert.equal(device.stats.rxDropped, 0);
  });
});
