import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootParamsError, buildBootParams } from '../../src/x86/boot-params.js';
import { e820Map } from '../../src/x86/e820.js';
import { CMDLINE_GPA, MiB } from '../../src/x86/layout.js';
import { parseBzImage } from '../../src/x86/bzimage.js';
import { makeBzImage } from './kernel-fixtures.js';

function fields(bp: Uint8Array) {
  const dv = new DataView(bp.buffer, bp.byteOffset);
  return {
    u8: (o: number) => bp[o],
    u16: (o: number) => dv.getUint16(o, true),
    u32: (o: number) => dv.getUint32(o, true),
    u64: (o: number) => Number(dv.getBigUint64(o, true)),
  };
}

test('ELF kernel: a synthesized setup header, command line, e820', () => {
  const e820 = e820Map(256 * MiB);
  const bp = buildBootParams({ cmdlineGpa: CMDLINE_GPA, cmdlineSize: 20, e820 });
  const f = fields(bp);
  assert.equal(bp.length, 4096);
  assert.equal(f.u16(0x1fe), 0xaa55);
  assert.equal(f.u32(0x202), 0x53726448);
  assert.equal(f.u16(0x206), 0x020f);
  assert.equal(f.u32(0x230), 0x1000000);
  assert.equal(f.u8(0x210), 0xff, 'type_of_loader');
  assert.equal(f.u8(0x211), 0x81, 'LOADED_HIGH | CAN_USE_HEAP');
  assert.equal(f.u16(0x224), 0xfe00 - 0x200);
  assert.equal(f.u32(0x228), CMDLINE_GPA);
  assert.equal(f.u32(0xc8), 0);
  assert.equal(f.u32(0x238), 20);
  assert.equal(f.u32(0x218), 0, 'no initrd');
  assert.equal(f.u8(0x1ef), 0, 'sentinel');
  assert.equal(f.u8(0x1e8), e820.length);
  e820.forEach((e, i) => {
    const o = 0x2d0 + i * 20;
    assert.deepEqual([f.u64(o), f.u64(o + 8), f.u32(o + 16)], [e.addr, e.size, e.type]);
  });
});

test('bzImage: its setup header is copied, loader fields overridden, initrd split into ext_ fields', () => {
  const hdr = parseBzImage(makeBzImage(new Uint8Array(64).fill(1))).setupHeader;
  const initrdGpa = 0x1_2345_6000; // above 4 GiB, to exercise ext_ramdisk_image
  const bp = buildBootParams({ setupHeader: hdr, cmdlineGpa: CMDLINE_GPA, cmdlineSize: 5, initrdGpa, initrdSize: 3 * MiB, e820: e820Map(64 * MiB) });
  const f = fields(bp);
  assert.deepEqual(bp.subarray(0x1f1, 0x210), hdr.subarray(0, 0x210 - 0x1f1), 'header bytes before type_of_loader are the image\'s');
  assert.equal(f.u32(0x22c), 0x7fffffff, 'initrd_addr_max from the image');
  assert.equal(f.u32(0x230), 0x200000, 'kernel_alignment from the image');
  assert.equal(f.u8(0x210), 0xff);
  assert.equal(f.u8(0x211), 0x81);
  assert.equal(f.u32(0x218), 0x2345_6000);
  assert.equal(f.u32(0xc0), 1);
  assert.equal(f.u32(0x21c), 3 * MiB);
  assert.equal(f.u32(0xc4), 0);
});

test('invalid input is rejected', () => {
  assert.throws(() => buildBootParams({ cmdlineGpa: CMDLINE_GPA, cmdlineSize: 1, e820: [] }), BootParamsError);
  assert.throws(() => buildBootParams({ cmdlineGpa: CMDLINE_GPA, cmdlineSize: 1, initrdSize: 10, e820: e820Map(64 * MiB) }), /without initrdGpa/);
  assert.throws(() => buildBootParams({ setupHeader: new Uint8Array(0x100), cmdlineGpa: 0, cmdlineSize: 1, e820: e820Map(64 * MiB) }), /does not fit/);
});
