/**
 * The tap back end against the real kernel: a client namespace pings the "guest"
 * played by FakeGuest through our Tap, on a private test network (root only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { netnsSkipReason, withTestNetwork } from '../helpers/netns.js';
import { Tap } from '../../src/net/tap.js';
import { TapError } from '../../src/net/errors.js';
import { TunOffload } from '../../src/net/tun-constants.js';
import { MacAddress } from '../../src/net/mac.js';
import { rarpAnnounceFrame } from '../../src/net/announce.js';
import { encodeVnetHeader, PLAIN_VNET_HEADER, VNET_HEADER_SIZE, VnetGso } from '../../src/net/vnet-header.js';
import { decodeArpFrame } from '../../src/net/arp.js';
import { FakeGuest } from './fake-guest.js';

const skip = netnsSkipReason();

test('a client namespace pings the guest behind our tap: ARP and ICMP both ways with vnet headers', { skip, timeout: 60_000 }, async () => {
  await withTestNetwork({ clients: 1 }, async (net) => {
    const tap = Tap.open({ ifname: net.tap.name });
    try {
      assert.equal(tap.name, net.tap.name);
      const guest = new FakeGuest(tap, net.guest.mac, net.guest.address);
      guest.start();
      const ping = await net.exec(net.clients[0], ['busybox', 'ping', '-c', '3', '-W', '5', net.guest.address]);
      assert.equal(ping.status, 0, `ping failed:\n${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /3 packets transmitted, 3 packets received/);
      assert.ok(guest.arpRequests.some((r) => r.senderIp === net.clients[0].address && r.targetIp === net.guest.address), 'ARP request from the client');
      assert.equal(guest.echoRequests.length, 3);
      assert.equal(guest.badChecksums, 0, 'with offloads off the kernel hands us complete checksums');
      assert.ok(guest.headers.every((h) => h.gsoType === VnetGso.NONE && h.numBuffers === 0), 'plain headers, num_buffers zeroed');
      assert.ok(tap.stats.sentPackets >= 4, `sent ${tap.stats.sentPackets}`);
      assert.equal(tap.stats.droppedSends, 0, tap.stats.lastSendError);
      assert.ok(tap.stats.receivedPackets >= 4);
    } finally {
      tap.close();
    }
  });
});

test('while paused packets wait in the kernel; a handler that pauses gets exactly one packet per resume', { skip, timeout: 60_000 }, async () => {
  await withTestNetwork({ clients: 1 }, async (net) => {
    const tap = Tap.open({ ifname: net.tap.name });
    try {
      const received: Uint8Array[] = [];
      tap.pauseReceive();
      // Like a virtio-net whose receive ring just filled up: stop after this packet.
      tap.receive((packet) => {
        received.push(Uint8Array.from(packet));
        tap.pauseReceive();
      });
      // Three broadcast ARP announcements from the client queue up in the tap.
      const client = net.clients[0];
      const arping = await net.exec(client, ['busybox', 'arping', '-U', '-c', '3', '-I', 'eth0', client.address]);
      assert.equal(arping.status, 0, arping.stdout + arping.stderr);
      await sleep(50);
      assert.equal(received.length, 0, 'nothing delivered while paused');
      for (let expected = 1; expected <= 3; expected++) {
        tap.resumeReceive();
        for (let i = 0; i < 100 && received.length < expected; i++) await sleep(5);
        await sleep(30);
        assert.equal(received.length, expected, `one packet per resume (resume ${expected})`);
      }
      const arp = decodeArpFrame(received[2].subarray(VNET_HEADER_SIZE));
      assert.equal(arp?.arp.senderIp, client.address);
    } finally {
      tap.close();
    }
  });
});

test('stopReceive detaches the receiver: packets wait in the kernel for the next one, even one attached while paused before', { skip, timeout: 60_000 }, async () => {
  await withTestNetwork({ clients: 1 }, async (net) => {
    const tap = Tap.open({ ifname: net.tap.name });
    try {
      const first: Uint8Array[] = [];
      tap.receive((packet) => {
        first.push(Uint8Array.from(packet));
        tap.stopReceive(); // like a NIC reset from inside its receive path
      });
      assert.throws(() => tap.receive(() => {}), (e: unknown) => e instanceof TapError && /already has a receiver: .*stopReceive/.test(e.message));
      const client = net.clients[0];
      const arping = await net.exec(client, ['busybox', 'arping', '-U', '-c', '3', '-I', 'eth0', client.address]);
      assert.equal(arping.status, 0, arping.stdout + arping.stderr);
      await sleep(50);
      assert.equal(first.length, 1, 'the handler that stopped receiving gets nothing more');

      tap.pauseReceive();
      tap.stopReceive(); // a stopped tap starts afresh: the pause goes with the receiver
      const second: Uint8Array[] = [];
      tap.receive((packet) => second.push(Uint8Array.from(packet)));
      for (let i = 0; i < 100 && second.length < 2; i++) await sleep(5);
      assert.equal(second.length, 2, 'the two packets left in the kernel queue go to the new receiver');
      assert.equal(first.length, 1);
    } finally {
      tap.close();
    }
  });
});

test('a RARP announcement sent through the tap teaches the bridge the MAC', { skip, timeout: 30_000 }, async () => {
  await withTestNetwork({ clients: 0 }, async (net) => {
    const tap = Tap.open({ ifname: net.tap.name });
    try {
      const moved = MacAddress.parse('52:54:00:ab:cd:ef');
      const learned = () =>
        (JSON.parse(execFileSync('bridge', ['-j', 'fdb', 'show', 'br', net.bridge.name], { encoding: 'utf8' })) as { mac: string; ifname: string }[]).some(
          (e) => e.mac === moved.toString() && e.ifname === net.tap.name,
        );
      assert.equal(learned(), false);
      assert.equal(tap.send([encodeVnetHeader(PLAIN_VNET_HEADER), rarpAnnounceFrame(moved)]), true);
      for (let i = 0; i < 50 && !learned(); i++) await sleep(10);
      assert.ok(learned(), `bridge ${net.bridge.name} learned ${moved} on ${net.tap.name}`);
    } finally {
      tap.close();
    }
  });
});

test('user errors become one-line TapErrors naming the tap and the fix', { skip, timeout: 30_000 }, async () => {
  await withTestNetwork({ clients: 0 }, async (net) => {
    const tap = Tap.open({ ifname: net.tap.name });
    try {
      assert.throws(() => Tap.open({ ifname: net.tap.name }), (e: unknown) => e instanceof TapError && e.message.includes(`'${net.tap.name}' is busy`) && !e.message.includes('\n'));
      assert.throws(() => Tap.open({ ifname: net.bridge.name }), /cannot use '.*' as a tap: .*another kind/);
      assert.throws(() => Tap.open({ ifname: 'a/b' }), /invalid tap name 'a\/b'/);
      assert.throws(() => Tap.open({ ifname: 'x'.repeat(16) }), /invalid tap name/);
      tap.setOffloads(TunOffload.CSUM | TunOffload.TSO4 | TunOffload.TSO6 | TunOffload.TSO_ECN | TunOffload.UFO);
      tap.setOffloads(0);
      assert.throws(() => tap.setOffloads(0x8000), /refused offload flags 0x8000/);
    } finally {
      tap.close();
    }
    assert.throws(() => tap.send(new Uint8Array(60)), /is closed/);
    // Closed, the persistent tap can be attached again (a restarted VM).
    Tap.open({ ifname: net.tap.name }).close();
  });
});

test('a tap missing is created by open (non-persistent: gone after close)', { skip }, () => {
  const name = `cjx${process.pid % 100000}`;
  const tap = Tap.open({ ifname: name });
  try {
    assert.match(execFileSync('ip', ['-o', 'link', 'show', 'dev', name], { encoding: 'utf8' }), /[<,]UP[,>]/);
  } finally {
    tap.close();
  }
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'pipe' }));
});
