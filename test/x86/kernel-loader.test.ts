import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { KernelFormatError, isBzImage, isElf, loadKernel } from '../../src/x86/kernel-loader.js';
import { compress, makeBzImage, makeElf, sampleVmlinux, toolAvailable, type FixtureCompression } from './kernel-fixtures.js';

const MiB = 1024 * 1024;
// dist/test/x86 -> repository root
const GUEST_OUT = fileURLToPath(new URL('../../../guest/out/', import.meta.url));
const GUEST_BZIMAGE = `${GUEST_OUT}bzImage`;
const GUEST_VMLINUX = `${GUEST_OUT}vmlinux`;

function ram(size = 32 * MiB): GuestMemory {
  return GuestMemory.fromBuffer(new Uint8Array(size));
}

function assertLoaded(mem: GuestMemory, sample: ReturnType<typeof sampleVmlinux>): void {
  assert.deepEqual(mem.read(0x1000000, 4096), sample.text);
  assert.deepEqual(mem.read(0x1000000 + 4096, 8192), new Uint8Array(8192), '.bss tail is zeroed');
  assert.deepEqual(mem.read(0x1200000, sample.data.length), sample.data);
}

test('ELF vmlinux loads at p_paddr, zeroes the bss tail, enters at e_entry', () => {
  const sample = sampleVmlinux();
  const mem = ram();
  mem.fill(0x1000000, 0x4000, 0xcc); // stale bytes where the .bss goes
  const k = loadKernel(sample.elf, mem);
  assert.equal(k.kind, 'elf');
  assert.equal(k.entry64, 0x1000200);
  assert.equal(k.setupHeader, undefined);
  assert.equal(k.loadEnd, 0x1201000, 'page-aligned end of the highest segment');
  assertLoaded(mem, sample);
});

test('detection helpers', () => {
  const sample = sampleVmlinux();
  assert.ok(isElf(sample.elf));
  assert.ok(!isBzImage(sample.elf));
  const bz = makeBzImage(compress(sample.elf, 'gzip'));
  assert.ok(isBzImage(bz));
  assert.ok(!isElf(bz));
});

const compressions: FixtureCompression[] = ['gzip', 'xz', 'zstd', 'lz4', 'bzip2', 'lzma', 'none'];
for (const c of compressions) {
  test(`bzImage with a ${c} payload is unpacked on the host and loaded as ELF`, { skip: toolAvailable(c) ? false : `${c} tool not installed` }, () => {
    const sample = sampleVmlinux();
    const relocs = new Uint8Array(256).fill(0xee); // vmlinux.relocs follows the ELF in the payload
    const payload = new Uint8Array(sample.elf.length + relocs.length);
    payload.set(sample.elf);
    payload.set(relocs, sample.elf.length);
    const image = makeBzImage(compress(payload, c));
    const mem = ram();
    const k = loadKernel(image, mem);
    assert.equal(k.kind, 'bzImage');
    assert.equal(k.payloadFormat, c);
    assert.equal(k.entry64, 0x1000200);
    assert.ok(k.setupHeader);
    assert.equal(k.setupHeader.length, 0x26c - 0x1f1);
    assert.equal(new DataView(k.setupHeader.buffer, k.setupHeader.byteOffset).getUint32(0x202 - 0x1f1, true), 0x53726448);
    assertLoaded(mem, sample);
  });
}

test('a missing decompression tool names the compression and the fix', { skip: toolAvailable('xz') ? false : 'xz not installed' }, () => {
  const image = makeBzImage(compress(sampleVmlinux().elf, 'xz'));
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    assert.throws(() => loadKernel(image, ram()), (e: unknown) => {
      assert.ok(e instanceof KernelFormatError);
      assert.match(e.message, /xz-compressed/);
      assert.match(e.message, /apt-get install xz-utils/);
      assert.match(e.message, /CONFIG_KERNEL_GZIP/);
      return true;
    });
  } finally {
    process.env.PATH = saved;
  }
});

test('bzImage validation', () => {
  const payload = compress(sampleVmlinux().elf, 'gzip');
  assert.throws(() => loadKernel(makeBzImage(payload, { protocol: 0x020a }), ram()), /boot protocol 2.10.*2.12/);
  assert.throws(() => loadKernel(makeBzImage(payload, { xloadflags: 0 }), ram()), /no 64-bit entry/);
  const truncated = makeBzImage(payload).subarray(0, 4 * 512 + 0x300 + 16);
  assert.throws(() => loadKernel(truncated, ram()), /outside the .*truncated/);
  const damaged = makeBzImage(payload);
  damaged.fill(0x42, 4 * 512 + 0x300, 4 * 512 + 0x310);
  assert.throws(() => loadKernel(damaged, ram()), KernelFormatError);
  const notElf = makeBzImage(compress(new Uint8Array(1000).fill(1), 'gzip'));
  assert.throws(() => loadKernel(notElf, ram()), /does not contain an ELF vmlinux/);
});

test('ELF validation rejects what is not an x86-64 executable', () => {
  const seg = [{ paddr: 0x100000, data: new Uint8Array(16) }];
  const cases: [Uint8Array, RegExp][] = [
    [makeElf({ entry: 0x100000, segments: seg, machine: 0x28 }), /machine 0x28, not x86-64/],
    [makeElf({ entry: 0x100000, segments: seg, type: 1 }), /ET_EXEC/],
    [makeElf({ entry: 0x100000, segments: seg, elfClass: 1 }), /not 64-bit/],
    [makeElf({ entry: 0x500000, segments: seg }), /entry point 0x500000 is not inside/],
    [makeElf({ entry: 0x100000, segments: seg }).subarray(0, 100), /program headers .* past the end/],
    [makeElf({ entry: 0x100000, segments: [] }), /no loadable/],
  ];
  for (const [image, re] of cases) assert.throws(() => loadKernel(image, ram()), (e: unknown) => e instanceof KernelFormatError && re.test(e.message));
});

test('a kernel that does not fit in RAM says so and names -m', () => {
  const sample = sampleVmlinux();
  assert.throws(() => loadKernel(sample.elf, ram(16 * MiB)), (e: unknown) => e instanceof KernelFormatError && /outside guest RAM \(16.0 MiB\).*-m/.test(e.message));
});

test('anything else is rejected with the expected message', () => {
  assert.throws(() => loadKernel(new TextEncoder().encode('#!/bin/sh\necho hi\n'), ram()), /^KernelFormatError: not a bzImage or ELF vmlinux: /);
  assert.throws(() => loadKernel(new Uint8Array(0), ram()), /not a bzImage or ELF vmlinux: 0 bytes/);
});

test('the project guest kernel: bzImage (host-unpacked) and vmlinux load byte-identically', {
  skip: existsSync(GUEST_BZIMAGE) && existsSync(GUEST_VMLINUX) ? false : 'guest kernel not built (guest/out/bzImage, guest/out/vmlinux)',
}, () => {
  const a = ram(64 * MiB);
  const b = ram(64 * MiB);
  const fromBz = loadKernel(new Uint8Array(readFileSync(GUEST_BZIMAGE)), a);
  const fromElf = loadKernel(new Uint8Array(readFileSync(GUEST_VMLINUX)), b);
  assert.equal(fromBz.kind, 'bzImage');
  assert.equal(fromBz.entry64, fromElf.entry64);
  assert.equal(fromBz.loadEnd, fromElf.loadEnd);
  assert.ok(Buffer.from(a.view(0, fromBz.loadEnd)).equals(Buffer.from(b.view(0, fromElf.loadEnd))));
});
