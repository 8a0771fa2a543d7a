import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MpTableError, buildMpTable, mpTableSize } from '../../src/x86/mptable.js';

const BASE = 0x9fc00;

interface Parsed {
  physptr: number;
  lapic: number;
  entryCount: number;
  cpus: { apicId: number; version: number; enabled: boolean; bsp: boolean }[];
  buses: { id: number; type: string }[];
  ioapics: { id: number; version: number; usable: boolean; addr: number }[];
  ints: { type: number; flags: number; bus: number; srcIrq: number; dstApic: number; pin: number }[];
  lints: { type: number; dstApic: number; lint: number }[];
}

function sum(bytes: Uint8Array): number {
  return bytes.reduce((a, b) => (a + b) & 0xff, 0);
}

/** Parses the tables the way a kernel would: find "_MP_", verify checksums, walk entries by type. */
function parse(buf: Uint8Array, base: number): Parsed {
  const dv = new DataView(buf.buffer, buf.byteOffset);
  const text = (o: number, n: number) => String.fromCharCode(...buf.subarray(o, o + n));
  assert.equal(text(0, 4), '_MP_');
  assert.equal(buf[8], 1, 'length in 16-byte units');
  assert.equal(buf[9], 4, 'spec 1.4');
  assert.equal(sum(buf.subarray(0, 16)), 0, 'floating pointer checksum');
  assert.equal(buf[11], 0, 'feature1 0: a configuration table follows');
  const physptr = dv.getUint32(4, true);
  const cfg = physptr - base;
  assert.equal(text(cfg, 4), 'PCMP');
  const length = dv.getUint16(cfg + 4, true);
  assert.equal(buf[cfg + 6], 4);
  assert.equal(sum(buf.subarray(cfg, cfg + length)), 0, 'config table checksum');
  assert.equal(cfg + length, buf.length, 'table length covers every entry');
  const out: Parsed = {
    physptr, lapic: dv.getUint32(cfg + 36, true), entryCount: dv.getUint16(cfg + 34, true),
    cpus: [], buses: [], ioapics: [], ints: [], lints: [],
  };
  let p = cfg + 44;
  let n = 0;
  while (p < cfg + length) {
    n++;
    switch (buf[p]) {
      case 0:
        out.cpus.push({ apicId: buf[p + 1], version: buf[p + 2], enabled: (buf[p + 3] & 1) !== 0, bsp: (buf[p + 3] & 2) !== 0 });
        p += 20;
        break;
      case 1:
        out.buses.push({ id: buf[p + 1], type: text(p + 2, 6) });
        p += 8;
        break;
      case 2:
        out.ioapics.push({ id: buf[p + 1], version: buf[p + 2], usable: (buf[p + 3] & 1) !== 0, addr: dv.getUint32(p + 4, true) });
        p += 8;
        break;
      case 3:
        out.ints.push({ type: buf[p + 1], flags: dv.getUint16(p + 2, true), bus: buf[p + 4], srcIrq: buf[p + 5], dstApic: buf[p + 6], pin: buf[p + 7] });
        p += 8;
        break;
      case 4:
        out.lints.push({ type: buf[p + 1], dstApic: buf[p + 6], lint: buf[p + 7] });
        p += 8;
        break;
      default:
        assert.fail(`unknown entry type ${buf[p]} at ${p}`);
    }
  }
  assert.equal(p, cfg + length);
  assert.equal(out.entryCount, n);
  return out;
}

function checkTable(cpuCount: number, timerPin: 0 | 2): void {
  const buf = buildMpTable(cpuCount, BASE, { timerPin });
  assert.equal(buf.length, mpTableSize(cpuCount, { timerPin }));
  const t = parse(buf, BASE);
  assert.equal(t.physptr, BASE + 16);
  assert.equal(t.lapic, 0xfee00000);
  assert.deepEqual(t.cpus.map((c) => c.apicId), [...Array(cpuCount).keys()]);
  assert.ok(t.cpus.every((c) => c.enabled && c.version === 0x14));
  assert.deepEqual(t.cpus.map((c) => c.bsp), t.cpus.map((_, i) => i === 0));
  assert.deepEqual(t.buses, [{ id: 0, type: 'ISA   ' }]);
  assert.deepEqual(t.ioapics, [{ id: cpuCount, version: 0x11, usable: true, addr: 0xfec00000 }]);
  assert.ok(t.ints.every((i) => i.type === 0 && i.bus === 0 && i.dstApic === cpuCount));
  const pinOf = new Map(t.ints.map((i) => [i.srcIrq, i]));
  assert.equal(pinOf.get(0)?.pin, timerPin, 'timer (ISA IRQ 0) on the configured pin');
  assert.equal(pinOf.has(2), false, 'the PIC cascade IRQ 2 carries no device');
  for (const irq of [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]) {
    assert.equal(pinOf.get(irq)?.pin, irq);
    assert.equal(pinOf.get(irq)?.flags, 0, 'ISA conforming (edge, active high)');
  }
  for (let pin = 16; pin < 24; pin++) {
    assert.equal(pinOf.get(pin)?.pin, pin);
    assert.equal(pinOf.get(pin)?.flags, 0b1101, 'level, active high');
  }
  assert.equal(new Set(t.ints.map((i) => i.pin)).size, t.ints.length, 'no pin used twice');
  assert.deepEqual(t.lints, [{ type: 3, dstApic: 0, lint: 0 }, { type: 1, dstApic: 0xff, lint: 1 }]);
}

test('1..4 CPUs, both timer routings', () => {
  for (const n of [1, 2, 3, 4]) for (const pin of [0, 2] as const) checkTable(n, pin);
});

test('property: any CPU count up to 254 produces a valid table', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 254 }), fc.constantFrom<0 | 2>(0, 2), (n, pin) => checkTable(n, pin)), { numRuns: 60 });
});

test('processor entries carry the given CPUID signature and features', () => {
  const buf = buildMpTable(2, BASE, { cpuSignature: 0x00a00f11, cpuFeatures: 0x178bfbff });
  const dv = new DataView(buf.buffer);
  const firstCpu = 16 + 44;
  assert.equal(dv.getUint32(firstCpu + 4, true), 0x00a00f11);
  assert.equal(dv.getUint32(firstCpu + 8, true), 0x178bfbff);
});

test('invalid arguments', () => {
  assert.throws(() => buildMpTable(0, BASE), MpTableError);
  assert.throws(() => buildMpTable(255, BASE), /1\.\.254/);
  assert.throws(() => buildMpTable(1, BASE + 4), /16-byte aligned/);
});
