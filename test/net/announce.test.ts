import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { announceDelays, gratuitousArpFrame, QEMU_ANNOUNCE_TIMING, rarpAnnounceFrame } from '../../src/net/announce.js';
import { ArpOp, decodeArpFrame, encodeArpFrame } from '../../src/net/arp.js';
import { EtherType } from '../../src/net/ethernet.js';
import { MacAddress } from '../../src/net/mac.js';

const mac = MacAddress.parse('52:54:00:12:34:56');
const macBytes = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

test('the RARP announcement is byte for byte what QEMU sends', () => {
  const expected = [
    ...new Array(6).fill(0xff), ...macBytes, 0x80, 0x35, // Ethernet: broadcast, from the guest, RARP
    0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03, // Ethernet/IPv4, "request reverse"
    ...macBytes, 0, 0, 0, 0, ...macBytes, 0, 0, 0, 0,
    ...new Array(18).fill(0), // padding to the 60-byte minimum
  ];
  assert.deepEqual([...rarpAnnounceFrame(mac)], expected);
});

test('gratuitous ARP: broadcast request for the guest’s own address', () => {
  const frame = gratuitousArpFrame(mac, '10.0.2.15');
  assert.equal(frame.length, 60);
  const decoded = decodeArpFrame(frame);
  assert.ok(decoded);
  assert.equal(decoded.etherType, EtherType.ARP);
  assert.deepEqual([...decoded.destination], new Array(6).fill(0xff));
  assert.deepEqual([...decoded.source], macBytes);
  assert.equal(decoded.arp.op, ArpOp.REQUEST);
  assert.equal(decoded.arp.senderIp, '10.0.2.15');
  assert.equal(decoded.arp.targetIp, '10.0.2.15');
  assert.deepEqual([...decoded.arp.senderMac], macBytes);
  assert.deepEqual([...decoded.arp.targetMac], [0, 0, 0, 0, 0, 0]);
});

test('ARP frames decode to what was encoded', () => {
  const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  const six = fc.uint8Array({ minLength: 6, maxLength: 6 });
  fc.assert(
    fc.property(six, six, fc.constantFrom(EtherType.ARP, EtherType.RARP), fc.integer({ min: 1, max: 4 }), six, ip, six, ip, (dst, src, etherType, op, senderMac, senderIp, targetMac, targetIp) => {
      const frame = { destination: dst, source: src, etherType, arp: { op, senderMac, senderIp, targetMac, targetIp } };
      assert.deepEqual(decodeArpFrame(encodeArpFrame(frame)), frame);
    }),
  );
});

test('frames that are not Ethernet/IPv4 ARP decode to undefined', () => {
  const frame = rarpAnnounceFrame(mac);
  assert.equal(decodeArpFrame(frame.subarray(0, 41)), undefined, 'truncated');
  const ipv4 = Uint8Array.from(frame);
  ipv4[12] = 0x08;
  ipv4[13] = 0x00;
  assert.equal(decodeArpFrame(ipv4), undefined, 'IPv4 ethertype');
  const ipv6Arp = Uint8Array.from(frame);
  ipv6Arp[17] = 0xdd;
  assert.equal(decodeArpFrame(ipv6Arp), undefined, 'other protocol type');
});

test('announce rounds follow QEMU’s timer: 50 ms, then +100 ms, capped at 550 ms', () => {
  assert.deepEqual(announceDelays(), [50, 150, 250, 350]);
  assert.deepEqual(announceDelays({ ...QEMU_ANNOUNCE_TIMING, rounds: 8 }), [50, 150, 250, 350, 450, 550, 550]);
  assert.deepEqual(announceDelays({ ...QEMU_ANNOUNCE_TIMING, rounds: 1 }), []);
});
