import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CpuidConfigError, CpuidDecodeError, KVM_PVM_HIDDEN_FEATURES, buildGuestCpuid, decodeCpuid2, encodeCpuid2,
  type CpuidEntry,
} from '../../src/x86/cpuid.js';
import { kvmSkipReason } from '../helpers/kvm.js';

const ALL = 0xffffffff;

function vendorRegs(vendor: string): Pick<CpuidEntry, 'ebx' | 'edx' | 'ecx'> {
  const b = Buffer.from(vendor, 'latin1');
  return { ebx: b.readUInt32LE(0), edx: b.readUInt32LE(4), ecx: b.readUInt32LE(8) };
}

function e(fn: number, index: number, regs: Partial<CpuidEntry> = {}, flags = 0): CpuidEntry {
  return { function: fn, index, flags, eax: ALL, ebx: ALL, ecx: ALL, edx: ALL, ...regs };
}

/** A host where every feature bit is set, as the harshest input for the filter. */
function hostCpuid(vendor: 'GenuineIntel' | 'AuthenticAMD'): CpuidEntry[] {
  const cache = (level: number, type: number) => (level << 5) | type | 0xfc000000 | (0xfff << 14);
  return [
    e(0, 0, { eax: 0x1f, ...vendorRegs(vendor) }),
    e(1, 0, { eax: 0x00a00f11, ebx: 0x12345678 }),
    e(4, 0, { eax: cache(1, 1) }, 1), e(4, 1, { eax: cache(1, 2) }, 1), e(4, 2, { eax: cache(2, 3) }, 1),
    e(4, 3, { eax: cache(3, 3) }, 1), e(4, 4, { eax: 0 }, 1),
    e(7, 0, {}, 1), e(7, 1, {}, 1),
    e(0xb, 0, {}, 1), e(0xb, 1, {}, 1), e(0xb, 2, {}, 1),
    e(0xd, 0, {}, 1), e(0xd, 1, {}, 1), e(0xd, 2, {}, 1), e(0xd, 9, {}, 1),
    e(0x1f, 0, {}, 1), e(0x1f, 1, {}, 1), e(0x1f, 2, {}, 1),
    e(0x40000000, 0), e(0x40000001, 0),
    e(0x80000000, 0, { eax: 0x8000001f }),
    e(0x80000001, 0), e(0x80000008, 0, { ecx: 0 }),
    e(0x8000001d, 0, { eax: cache(1, 1) }, 1), e(0x8000001d, 1, { eax: cache(3, 3) }, 1),
    e(0x8000001e, 0),
  ];
}

function find(entries: CpuidEntry[], fn: number, index = 0): CpuidEntry {
  const found = entries.find((x) => x.function === fn && x.index === index);
  assert.ok(found, `leaf 0x${fn.toString(16)}.${index} present`);
  return found;
}

for (const vendor of ['GenuineIntel', 'AuthenticAMD'] as const) {
  test(`${vendor}: per-vCPU topology (APIC ids, counts, x2APIC levels, caches)`, () => {
    const host = hostCpuid(vendor);
    for (const vcpuCount of [1, 2, 3, 4]) {
      for (let vcpuIndex = 0; vcpuIndex < vcpuCount; vcpuIndex++) {
        for (const backend of ['hardware', 'kvm_pvm'] as const) {
          const g = buildGuestCpuid(host, { vcpuIndex, vcpuCount, backend });
          const l1 = find(g, 1);
          assert.equal(l1.ebx >>> 24, vcpuIndex, 'initial APIC id');
          assert.equal((l1.ebx >>> 16) & 0xff, vcpuCount, 'logical processor count');
          assert.equal(l1.ebx & 0xffff, 0x5678, 'brand/clflush bits kept');
          assert.equal((l1.edx >>> 28) & 1, vcpuCount > 1 ? 1 : 0, 'HTT');
          for (const leaf of [0xb, 0x1f]) {
            const smt = find(g, leaf, 0);
            const core = find(g, leaf, 1);
            const end = find(g, leaf, 2);
            assert.ok([smt, core, end].every((x) => x.edx === vcpuIndex), 'x2APIC id in EDX');
            assert.deepEqual([smt.eax, smt.ebx, smt.ecx], [0, 1, 0x100]);
            assert.deepEqual([core.ebx, core.ecx], [vcpuCount, 0x201]);
            assert.ok(2 ** core.eax >= vcpuCount && (core.eax === 0 || 2 ** (core.eax - 1) < vcpuCount));
            assert.equal((end.ecx >>> 8) & 0xff, 0, 'level type 0 ends the list');
          }
          const l1d = find(g, 4, 0);
          const l3 = find(g, 4, 3);
          assert.equal(l1d.eax >>> 26, vcpuCount - 1, 'cores per package');
          assert.equal((l1d.eax >>> 14) & 0xfff, 0, 'L1 private');
          assert.equal((l3.eax >>> 14) & 0xfff, vcpuCount - 1, 'L3 shared');
          assert.equal(find(g, 4, 4).eax, 0, 'null cache subleaf untouched');
          if (vendor === 'AuthenticAMD') {
            assert.equal(find(g, 0x80000008).ecx & 0xff, vcpuCount - 1);
            assert.equal(find(g, 0x8000001e).eax, vcpuIndex);
            assert.equal((find(g, 0x80000001).ecx >>> 1) & 1, vcpuCount > 1 ? 1 : 0, 'CmpLegacy');
          } else {
            assert.equal(find(g, 0x80000008).ecx, 0, 'Intel: AMD-only fields untouched');
          }
        }
      }
    }
  });
}

test('kvm_pvm: every listed feature bit is cleared, the hypervisor bit kept', () => {
  const g = buildGuestCpuid(hostCpuid('GenuineIntel'), { vcpuIndex: 0, vcpuCount: 1, backend: 'kvm_pvm' });
  for (const f of KVM_PVM_HIDDEN_FEATURES) {
    const entry = find(g, f.leaf, f.subleaf);
    assert.equal((entry[f.reg] >>> f.bit) & 1, 0, `${f.name} (leaf 0x${f.leaf.toString(16)}.${f.subleaf} ${f.reg}[${f.bit}]) cleared`);
    assert.ok(f.why.length > 10, `${f.name} says why`);
  }
  assert.equal(find(g, 1).ecx >>> 31, 1, 'hypervisor bit kept');
  assert.equal((find(g, 1).ecx >>> 21) & 1, 1, 'x2APIC kept');
  assert.equal(find(g, 7).ebx & (1 << 7), 1 << 7, 'SMEP kept (a CR4 bit, no instruction)');
  assert.equal(find(g, 1).edx, (ALL & ~(1 << 28)) >>> 0, 'leaf 1 EDX untouched apart from HTT (clear for 1 vCPU)');
});

test('kvm_pvm: leaf 0xD describes an x87/SSE-only CPU', () => {
  const g = buildGuestCpuid(hostCpuid('AuthenticAMD'), { vcpuIndex: 0, vcpuCount: 2, backend: 'kvm_pvm' });
  const xsave = g.filter((x) => x.function === 0xd);
  assert.deepEqual(xsave.map((x) => x.index), [0, 1]);
  assert.deepEqual([xsave[0].eax, xsave[0].edx], [0x3, 0]);
  assert.deepEqual([xsave[1].eax, xsave[1].ebx, xsave[1].ecx, xsave[1].edx], [0, 0, 0, 0]);
});

test('leaf 0xB listed with subleaf 0 only (as kvm_pvm does) still gets the full level list', () => {
  const host = hostCpuid('AuthenticAMD').filter((x) => !(x.function === 0xb && x.index > 0));
  const g = buildGuestCpuid(host, { vcpuIndex: 2, vcpuCount: 3, backend: 'kvm_pvm' });
  const levels = g.filter((x) => x.function === 0xb);
  assert.deepEqual(levels.map((x) => [x.index, (x.ecx >>> 8) & 0xff, x.ebx, x.edx, x.flags & 1]), [[0, 1, 1, 2, 1], [1, 2, 3, 2, 1], [2, 0, 0, 2, 1]]);
});

test('hardware backend keeps every feature bit', () => {
  const host = hostCpuid('GenuineIntel');
  const g = buildGuestCpuid(host, { vcpuIndex: 1, vcpuCount: 2, backend: 'hardware' });
  assert.equal(g.length, host.length);
  for (const fn of [7, 0xd, 0x80000001, 0x40000001]) {
    for (const h of host.filter((x) => x.function === fn)) assert.deepEqual(find(g, fn, h.index), h);
  }
  assert.equal(find(g, 1).ecx, ALL);
});

test('topology arguments are checked', () => {
  const host = hostCpuid('GenuineIntel');
  assert.throws(() => buildGuestCpuid(host, { vcpuIndex: 2, vcpuCount: 2, backend: 'hardware' }), CpuidConfigError);
  assert.throws(() => buildGuestCpuid(host, { vcpuIndex: 0, vcpuCount: 0, backend: 'hardware' }), /1\.\.254/);
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const entryArb = fc.record({ function: u32, index: u32, flags: fc.integer({ min: 0, max: 7 }), eax: u32, ebx: u32, ecx: u32, edx: u32 });

test('kvm_cpuid2 encode/decode round trip and layout', () => {
  fc.assert(fc.property(fc.array(entryArb, { maxLength: 80 }), (entries) => {
    const buf = encodeCpuid2(entries);
    assert.equal(buf.length, 8 + 40 * entries.length);
    assert.equal(buf.readUInt32LE(0), entries.length);
    assert.deepEqual(decodeCpuid2(buf), entries.map((x) => ({ ...x }))); // fast-check records have a null prototype
  }));
  const buf = encodeCpuid2([{ function: 7, index: 1, flags: 1, eax: 2, ebx: 3, ecx: 4, edx: 5 }]);
  assert.deepEqual([...new Uint32Array(buf.buffer, buf.byteOffset, 12)], [1, 0, 7, 1, 1, 2, 3, 4, 5, 0, 0, 0]);
});

test('decodeCpuid2 rejects a buffer shorter than nent says, and reads only nent entries of a larger one', () => {
  const buf = encodeCpuid2([e(1, 0), e(2, 0)]);
  assert.throws(() => decodeCpuid2(buf.subarray(0, 60)), CpuidDecodeError);
  const big = Buffer.alloc(8 + 40 * 10);
  buf.copy(big);

  assert.equal(decodeCpuid2(big).length, 2);
});

test('real KVM_GET_SUPPORTED_CPUID decodes and filters', { skip: kvmSkipReason() }, async () => {
  const { KvmSystem } = await import('../../src/kvm/system.js');
  const kvm = KvmSystem.open();
  let raw: Uint8Array;
  try {
    raw = kvm.supportedCpuid();
  } finally {
    kvm.close();
  }
  const supported = decodeCpuid2(raw);
  assert.ok(supported.length > 5);
  const leaf0 = find(supported, 0);
  assert.ok(leaf0.eax >= 0xb || leaf0.eax >= 7);
  const g = buildGuestCpuid(supported, { vcpuIndex: 1, vcpuCount: 2, backend: 'kvm_pvm' });
  assert.equal(find(g, 1).ebx >>> 24, 1);
  assert.equal((find(g, 1).ecx >>> 13) & 1, 0, 'CX16 hidden');
  if (supported.some((x) => x.function === 0xb)) {
    assert.deepEqual(g.filter((x) => x.function === 0xb).map((x) => [x.index, x.ebx, x.edx]), [[0, 1, 1], [1, 2, 1], [2, 0, 1]]);
  }
  assert.deepEqual(decodeCpuid2(encodeCpuid2(g)), g);
});
