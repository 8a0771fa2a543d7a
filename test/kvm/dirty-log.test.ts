/**
 * The dirty-log ioctl wrappers: struct layouts, and KVM's GET/CLEAR semantics in
 * both modes on a real VM (GET clears in legacy mode only; CLEAR re-arms exactly the
 * given pages; INITIALLY_SET starts all-dirty).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as K from '../../src/kvm/constants.js';
import {
  CLEAR_DIRTY_LOG_SIZE, DIRTY_LOG_SIZE, dirtyBitmapBytes, encodeClearDirtyLog, encodeDirtyLog,
  KvmDirtyBitmap, manualProtectSupport, setDirtyLogMode,
} from '../../src/kvm/dirty-log.js';
import { PageBitmap } from '../../src/memory/page-bitmap.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { TINY_RAM } from '../helpers/long-mode-vm.js';
import { asm, phasedGuest } from '../memory/dirty-guest.js';

const opts = { skip: kvmSkipReason(), timeout: 20_000 };
const PAGES = TINY_RAM / 4096;

test('struct kvm_dirty_log and kvm_clear_dirty_log layouts (linux/kvm.h)', () => {
  assert.equal(DIRTY_LOG_SIZE, 16);
  assert.equal(CLEAR_DIRTY_LOG_SIZE, 24);
  const get = new DataView(encodeDirtyLog(3, 0x1122334455667788n).buffer);
  assert.equal(get.getUint32(0, true), 3); // slot
  assert.equal(get.getUint32(4, true), 0); // padding1
  assert.equal(get.getBigUint64(8, true), 0x1122334455667788n); // dirty_bitmap
  const clear = new DataView(encodeClearDirtyLog(2, 128, 4096, 0xabcdef000n).buffer);
  assert.equal(clear.getUint32(0, true), 2); // slot
  assert.equal(clear.getUint32(4, true), 4096); // num_pages
  assert.equal(clear.getBigUint64(8, true), 128n); // first_page
  assert.equal(clear.getBigUint64(16, true), 0xabcdef000n); // dirty_bitmap
});

test('the bitmap buffer is whole 64-bit words and setAll stops at the last page', () => {
  assert.equal(dirtyBitmapBytes(1), 8);
  assert.equal(dirtyBitmapBytes(64), 8);
  assert.equal(dirtyBitmapBytes(65), 16);
  const b = new KvmDirtyBitmap(70);
  assert.equal(b.buffer.byteLength, 16);
  assert.ok(b.address > 0n);
  b.setAll();
  const asPages = new PageBitmap(70);
  asPages.orWords(b.words);
  assert.equal(asPages.count(), 70);
  assert.deepEqual(b.words, asPages.words, 'no bits past page 69');
  assert.equal(b.isEmpty(), false);
});

/** Runs one guest phase that writes `gpa`, with the slot logged in `mode`. */
async function guestWithLog(mode: 'legacy' | 'manual-protect', initiallySet: boolean) {
  const TARGET = 0x140000;
  const g = phasedGuest([...asm.movDword(0x180000, 1), ...asm.endPhase(), ...asm.movDword(TARGET, 7), ...asm.endPhase(), ...asm.spin()]);
  const got = setDirtyLogMode(g.vm, mode, { initiallySet });
  g.vm.setUserMemoryRegion(0, 0, TINY_RAM, g.slot.hostAddress, K.KVM_MEM_LOG_DIRTY_PAGES);
  const bitmap = new KvmDirtyBitmap(PAGES);
  const read = () => {
    g.vm.getDirtyLog(0, bitmap);
    const p = new PageBitmap(PAGES);
    p.orWords(bitmap.words);
    return p;
  };
  return { g, got, bitmap, read, targetPage: TARGET / 4096 };
}

test('legacy mode: GET returns the dirty pages and clears the log', opts, async () => {
  const { g, got, read, targetPage } = await guestWithLog('legacy', false);
  try {
    assert.equal(got.mode, 'legacy');
    await g.runPhase();
    read(); // warm-up writes (page-table A/D bits)
    await g.runPhase();
    assert.deepEqual([...read()], [targetPage]);
    assert.deepEqual([...read()], [], 'the first GET cleared it');
  } finally {
    g.destroy();
  }
});

test('manual-protect mode: GET only reads, CLEAR re-arms exactly the given pages', opts, async (t) => {
  const { g, got, bitmap, read, targetPage } = await guestWithLog('manual-protect', false);
  try {
    if (got.mode !== 'manual-protect') return t.skip('KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2');
    await g.runPhase();
    const warm = read();
    assert.ok(warm.has(0x180));
    assert.deepEqual([...read()], [...warm], 'GET did not clear');
    g.vm.clearDirtyLog(0, 0, PAGES, bitmap); // bitmap still holds the GET result
    assert.deepEqual([...read()], []);
    await g.runPhase();
    assert.deepEqual([...read()], [targetPage]);
    // CLEAR with a bitmap that does not name the page leaves it dirty.
    bitmap.words.fill(0);
    g.vm.clearDirtyLog(0, 0, PAGES, bitmap);
    assert.deepEqual([...read()], [targetPage]);
  } finally {
    g.destroy();
  }
});

test('manual-protect with INITIALLY_SET: a new log reports every page', opts, async (t) => {
  const { g, got, read } = await guestWithLog('manual-protect', true);
  try {
    if (!got.initiallySet) return t.skip('KVM lacks KVM_DIRTY_LOG_INITIALLY_SET');
    assert.equal(read().count(), PAGES);
  } finally {
    g.destroy();
  }
});

test('manualProtectSupport reads the VM\'s capability flags', opts, () => {
  const g = phasedGuest(asm.spin());
  try {
    const s = manualProtectSupport(g.vm);
    if (s.initiallySet) assert.ok(s.manualProtect, 'INITIALLY_SET depends on MANUAL_PROTECT_ENABLE');
  } finally {
    g.destroy();
  }
});
