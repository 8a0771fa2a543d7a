import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CMDLINE_GPA, CMDLINE_MAX, DEFAULT_INITRD_ADDR_MAX, EBDA_START, GiB, InitrdTooLargeError, MPTABLE_GPA, MiB,
  PAGE_TABLES_GPA, ZERO_PAGE_GPA, initrdAddrMaxFromHeader, placeInitrd,
} from '../../src/x86/layout.js';
import { GDT_GPA, PD_GPA } from '../../src/x86/long-mode.js';
import { parseBzImage } from '../../src/x86/bzimage.js';
import { mpTableSize } from '../../src/x86/mptable.js';
import { makeBzImage } from './kernel-fixtures.js';

test('boot structures do not overlap each other', () => {
  const areas: [string, number, number][] = [
    ['GDT', GDT_GPA, 0x20],
    ['zero page', ZERO_PAGE_GPA, 0x1000],
    ['page tables', PAGE_TABLES_GPA, PD_GPA + 4 * 0x1000 - PAGE_TABLES_GPA],
    ['cmdline', CMDLINE_GPA, CMDLINE_MAX],
    ['MP table (4 CPUs)', MPTABLE_GPA, mpTableSize(4)],
  ];
  for (const [a, s1, l1] of areas) {
    for (const [b, s2, l2] of areas) {
      if (a !== b) assert.ok(s1 + l1 <= s2 || s2 + l2 <= s1, `${a} overlaps ${b}`);
    }
  }
  assert.ok(CMDLINE_GPA + CMDLINE_MAX <= EBDA_START);
  assert.ok(MPTABLE_GPA + mpTableSize(254) <= 0x100000, 'even 254 CPUs fit in the reserved area');
});

test('initrd goes to the top of low RAM, page aligned, under the kernel limit', () => {
  assert.equal(placeInitrd(128 * MiB, 10 * MiB + 5, DEFAULT_INITRD_ADDR_MAX), 128 * MiB - 10 * MiB - 4096);
  assert.equal(placeInitrd(2 * GiB, MiB), 0x38000000 - MiB, 'never above 0x37ffffff');
  assert.equal(placeInitrd(8 * GiB, MiB, 0xffffffff), 0x38000000 - MiB);
  assert.equal(placeInitrd(512 * MiB, MiB, 0xfffffff), 256 * MiB - MiB, "the header's initrd_addr_max applies");
});

test('an initrd that does not fit throws InitrdTooLargeError naming sizes and the fix', () => {
  assert.throws(() => placeInitrd(64 * MiB, 60 * MiB, DEFAULT_INITRD_ADDR_MAX, 20 * MiB), (e: unknown) => {
    assert.ok(e instanceof InitrdTooLargeError);
    assert.match(e.message, /initrd of 60 MiB does not fit in 64 MiB .*raise -m to at least 144 MiB/);
    return true;
  });
  assert.throws(() => placeInitrd(4 * GiB, 900 * MiB, DEFAULT_INITRD_ADDR_MAX, 20 * MiB), /use a smaller initrd/);
});

test('property: a placed initrd lies above minGpa, below every limit, page aligned', () => {
  fc.assert(fc.property(
    fc.integer({ min: 16, max: 8192 }), fc.integer({ min: 1, max: 512 * MiB }), fc.integer({ min: 2, max: 64 }),
    (ramMiB, size, kernelEndMiB) => {
      const ram = ramMiB * MiB;
      const minGpa = kernelEndMiB * MiB;
      try {
        const at = placeInitrd(ram, size, DEFAULT_INITRD_ADDR_MAX, minGpa);
        assert.equal(at % 4096, 0);
        assert.ok(at >= minGpa);
        assert.ok(at + size <= Math.min(ram, DEFAULT_INITRD_ADDR_MAX + 1));
      } catch (e) {
        assert.ok(e instanceof InitrdTooLargeError);
        assert.ok(minGpa + size > Math.min(ram, DEFAULT_INITRD_ADDR_MAX + 1) - 4096);
      }
    },
  ));
});

test('initrd_addr_max is read from a bzImage header', () => {
  assert.equal(initrdAddrMaxFromHeader(undefined), DEFAULT_INITRD_ADDR_MAX);
  const hdr = parseBzImage(makeBzImage(new Uint8Array(8), { initrdAddrMax: 0x1fffffff })).setupHeader;
  assert.equal(initrdAddrMaxFromHeader(hdr), 0x1fffffff);
});
