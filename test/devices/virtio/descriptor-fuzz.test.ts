/**
 * Property tests of descriptor-chain handling with random, mostly hostile queue contents:
 * the transport never throws, never writes outside guest RAM (guard bytes around the RAM
 * buffer stay intact), and marks DEVICE_NEEDS_RESET exactly when a chain breaks a rule
 * (checked against a small independent reference walker).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import * as C from '../../../src/devices/virtio/constants.js';
import { VirtioMmioTransport } from '../../../src/devices/virtio/mmio-transport.js';
import { RecordingDevice } from './recording-device.js';

const BASE = 0x100000; // RAM starts above zero so address 0 is outside it too
const RAM = 0x10000;
const GUARD = 0x1000;
const QSIZE = 8;
const DESC = BASE + 0x1000;
const AVAIL = BASE + 0x2000;
const INDIRECT_ZONE = BASE + 0x3000; // 0x1000 bytes of indirect tables
const USED = BASE + RAM - 0x1000; // last page: device-written, never used as a table
const GUARD_BYTE = 0x5a;

interface Desc { addr: bigint; len: number; flags: number; next: number }

/** Buffer addresses: anywhere in RAM, straddling its ends, outside, or absurd. */
const bufferAddr = fc.oneof(
  fc.integer({ min: BASE, max: BASE + RAM - 1 }).map(BigInt),
  fc.constantFrom(0n, BigInt(BASE - 1), BigInt(BASE + RAM - 8), BigInt(BASE + RAM), 2n ** 53n, 2n ** 64n - 1n),
);
/** Table addresses: inside the indirect zone, straddling RAM's end, or outside RAM. */
const tableAddr = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((i) => BigInt(INDIRECT_ZONE + 16 * i)),
  fc.constantFrom(BigInt(BASE + RAM - 8), BigInt(BASE - 16), 2n ** 63n),
);
const len = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(16, 32, 128, 0x10000, 0xffffffff));
const flags = fc.integer({ min: 0, max: 7 });
const next = fc.integer({ min: 0, max: 2 * QSIZE });
const hostileDesc: fc.Arbitrary<Desc> = fc.record({ flags, len, next, addr: bufferAddr }).chain((d) =>
  d.flags & C.VIRTQ_DESC_F_INDIRECT ? tableAddr.map((addr) => ({ ...d, addr })) : fc.constant(d));
/** Mostly plausible descriptors (short chains ending soon), so that valid chains are common too. */
const plausibleDesc: fc.Arbitrary<Desc> = fc.record({
  flags: fc.constantFrom(0, 0, 0, C.VIRTQ_DESC_F_WRITE, C.VIRTQ_DESC_F_WRITE, C.VIRTQ_DESC_F_NEXT),
  len: fc.integer({ min: 0, max: 64 }),
  next: fc.integer({ min: 0, max: QSIZE - 1 }),
  addr: fc.integer({ min: BASE + 0x4000, max: USED - 64 }).map(BigInt),
});
const indirectDesc: fc.Arbitrary<Desc> = fc.record({
  flags: fc.constant(C.VIRTQ_DESC_F_INDIRECT),
  len: fc.constantFrom(16, 32, 64, 128),
  next: fc.constant(0),
  addr: fc.integer({ min: 0, max: 0xf0 }).map((i) => BigInt(INDIRECT_ZONE + 16 * i)),
});
const desc = fc.oneof({ arbitrary: plausibleDesc, weight: 6 }, { arbitrary: indirectDesc, weight: 1 }, { arbitrary: hostileDesc, weight: 2 });

const scenario = fc.record({
  table: fc.array(desc, { minLength: QSIZE, maxLength: QSIZE }),
  indirect: fc.array(desc, { minLength: 0, maxLength: 256 }), // written into the indirect zone
  ring: fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: QSIZE - 1 }), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 }), { minLength: QSIZE, maxLength: QSIZE }),
  availIdx: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3 }), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: QSIZE + 3 }), weight: 1 }),
  indirectFeature: fc.boolean(),
  eventIdx: fc.boolean(),
});

function makeVm() {
  const outer = new Uint8Array(GUARD + RAM + GUARD).fill(GUARD_BYTE);
  const ram = outer.subarray(GUARD, GUARD + RAM);
  ram.fill(0);
  const mem = GuestMemory.fromBuffer(ram, BASE);
  return { outer, mem };
}

function writeDesc(mem: GuestMemory, at: number, d: Desc): void {
  mem.writeU64(at, d.addr & (2n ** 64n - 1n));
  mem.writeU32(at + 8, d.len);
  mem.writeU16(at + 12, d.flags);
  mem.writeU16(at + 14, d.next);
}

function start(mem: GuestMemory, device: RecordingDevice, features: bigint) {
  const t = new VirtioMmioTransport({ memory: mem, device, line: { set: () => {} } });
  const w = (o: number, v: number) => t.write(o, 4, v);
  w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER);
  w(C.REG_DRIVER_FEATURES_SEL, 0);
  w(C.REG_DRIVER_FEATURES, Number(features & 0xffffffffn));
  w(C.REG_DRIVER_FEATURES_SEL, 1);
  w(C.REG_DRIVER_FEATURES, Number(features >> 32n));
  w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK);
  w(C.REG_QUEUE_NUM, QSIZE);
  w(C.REG_QUEUE_DESC_LOW, DESC);
  w(C.REG_QUEUE_DRIVER_LOW, AVAIL);
  w(C.REG_QUEUE_DEVICE_LOW, USED);
  w(C.REG_QUEUE_READY, 1);
  w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK | C.STATUS_DRIVER_OK);
  return t;
}

/** Independent reading of §2.7.5 rules: is the chain from `head` acceptable? */
function referenceValid(mem: GuestMemory, head: number, indirectOk: boolean): boolean {
  const inRam = (a: bigint, n: number) => a >= BigInt(BASE) && a + BigInt(n) <= BigInt(BASE + RAM);
  let table = DESC;
  let entries = QSIZE;
  let idx = head;
  let inIndirect = false;
  let buffers = 0;
  let sawWritable = false;
  const seen = new Set<string>();
  for (;;) {
    if (idx >= entries) return false;
    const key = `${inIndirect}:${idx}`;
    if (seen.has(key)) return false;
    seen.add(key);
    const at = table + 16 * idx;
    const d = { addr: mem.readU64(at), len: mem.readU32(at + 8), flags: mem.readU16(at + 12), next: mem.readU16(at + 14) };
    if (d.flags & C.VIRTQ_DESC_F_INDIRECT) {
      if (inIndirect || !indirectOk || d.flags & C.VIRTQ_DESC_F_NEXT || d.len === 0 || d.len % 16 || d.len / 16 > QSIZE || !inRam(d.addr, d.len)) return false;
      table = Number(d.addr);
      entries = d.len / 16;
      idx = 0;
      inIndirect = true;
      continue;
    }
    if (++buffers > QSIZE) return false;
    if (d.len > 0) {
      if (!inRam(d.addr, d.len)) return false;
      if (d.flags & C.VIRTQ_DESC_F_WRITE) sawWritable = true;
      else if (sawWritable) return false;
    }
    if (!(d.flags & C.VIRTQ_DESC_F_NEXT)) return true;
    idx = d.next;
  }
}

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function load(mem: GuestMemory, s: Scenario): void {
  s.table.forEach((d, i) => writeDesc(mem, DESC + 16 * i, d));
  s.indirect.forEach((d, i) => writeDesc(mem, INDIRECT_ZONE + 16 * i, d));
  s.ring.forEach((h, i) => mem.writeU16(AVAIL + 4 + 2 * i, h));
  mem.writeU16(AVAIL + 2, s.availIdx);
}

function features(s: { indirectFeature: boolean; eventIdx: boolean }): bigint {
  return C.VIRTIO_F_VERSION_1 | (s.indirectFeature ? C.VIRTIO_F_RING_INDIRECT_DESC : 0n) | (s.eventIdx ? C.VIRTIO_F_RING_EVENT_IDX : 0n);
}

test('random descriptor tables: NEEDS_RESET exactly at the first chain breaking a rule', () => {
  const outcomes = { broken: 0, served: 0, empty: 0 };
  fc.assert(fc.property(scenario, (s) => {
    const { mem } = makeVm();
    // This device only records chains (writes nothing into buffers), so tables stay as the reference sees them.
    const device = new RecordingDevice([QSIZE]);
    device.autoComplete = false;
    const t = start(mem, device, features(s));
    load(mem, s);
    const expectedChains: number[] = [];
    let expectBroken = s.availIdx > QSIZE;
    if (!expectBroken) {
      for (let i = 0; i < s.availIdx; i++) {
        if (!referenceValid(mem, s.ring[i], s.indirectFeature)) { expectBroken = true; break; }
        expectedChains.push(s.ring[i]);
      }
    }
    t.notify(0);
    const broken = (Number(t.read(C.REG_STATUS, 4)) & C.STATUS_DEVICE_NEEDS_RESET) !== 0;
    assert.equal(broken, expectBroken);
    assert.deepEqual(device.chains.map((c) => c.head), expectedChains);
    for (const c of device.chains) {
      for (const seg of [...c.readable, ...c.writable]) assert.ok(mem.contains(seg.gpa, seg.len));
    }
    if (broken) assert.equal(Number(t.read(C.REG_INTERRUPT_STATUS, 4)) & C.INT_CONFIG_CHANGE, C.INT_CONFIG_CHANGE);
    outcomes[broken ? 'broken' : device.chains.length > 0 ? 'served' : 'empty']++;
  }), { numRuns: 2000 });
  // The generator must reach both sides, or the property says little.
  assert.ok(outcomes.broken > 100 && outcomes.served > 100, JSON.stringify(outcomes));
});

test('random queues with a device that writes into buffers: no throw, no byte outside RAM touched', () => {
  fc.assert(fc.property(scenario, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (s, usedEvent, flagsWord) => {
    const { outer, mem } = makeVm();
    const device = new RecordingDevice([QSIZE], 0xee);
    const t = start(mem, device, features(s));
    load(mem, s);
    mem.writeU16(AVAIL, flagsWord);
    mem.writeU16(AVAIL + 4 + 2 * QSIZE, usedEvent);
    assert.doesNotThrow(() => { t.notify(0); t.notify(0); });
    for (let i = 0; i < GUARD; i++) {
      assert.equal(outer[i], GUARD_BYTE);
      assert.equal(outer[GUARD + RAM + i], GUARD_BYTE);
    }
  }), { numRuns: 1000 });
});
