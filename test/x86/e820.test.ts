import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { E820_RAM, E820_RESERVED, E820Error, e820Map, type E820Entry } from '../../src/x86/e820.js';
import { GiB, MiB, ramRanges } from '../../src/x86/layout.js';

test('small guest: low RAM, EBDA/BIOS reserved, RAM from 1 MiB to the end', () => {
  assert.deepEqual(e820Map(128 * MiB), [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0x100000 - 0x9fc00, type: E820_RESERVED },
    { addr: 0x100000, size: 127 * MiB, type: E820_RAM },
  ]);
});

test('large guest: RAM beyond 3 GiB is moved above 4 GiB, leaving the MMIO hole', () => {
  const map = e820Map(5 * GiB);
  assert.deepEqual(map.slice(2), [
    { addr: 0x100000, size: 3 * GiB - 0x100000, type: E820_RAM },
    { addr: 4 * GiB, size: 2 * GiB, type: E820_RAM },
  ]);
  assert.deepEqual(ramRanges(5 * GiB), [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: 2 * GiB }]);
});

test('extra reserved ranges are cut out of RAM', () => {
  const map = e820Map(64 * MiB, [{ addr: 32 * MiB, size: MiB }]);
  assert.deepEqual(map.slice(2), [
    { addr: 0x100000, size: 31 * MiB, type: E820_RAM },
    { addr: 32 * MiB, size: MiB, type: E820_RESERVED },
    { addr: 33 * MiB, size: 31 * MiB, type: E820_RAM },
  ]);
  assert.throws(() => e820Map(64 * MiB, [{ addr: 1 * MiB, size: 2 * MiB }, { addr: 2 * MiB, size: MiB }]), /overlap/);
  assert.throws(() => e820Map(MiB), E820Error);
});

function ramBytes(map: E820Entry[]): number {
  return map.filter((e) => e.type === E820_RAM).reduce((n, e) => n + e.size, 0);
}

test('property: entries are sorted, disjoint, never in the MMIO hole; RAM adds up', () => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 64 * 1024 }), (mib) => {
    const size = mib * MiB;
    const map = e820Map(size);
    for (let i = 1; i < map.length; i++) assert.ok(map[i - 1].addr + map[i - 1].size <= map[i].addr);
    for (const e of map) assert.ok(e.addr + e.size <= 3 * GiB || e.addr >= 4 * GiB);
    assert.equal(ramBytes(map), size - (0x100000 - 0x9fc00));
  }));
});
