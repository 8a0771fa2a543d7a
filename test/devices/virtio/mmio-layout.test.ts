import { test } from 'node:test';
import assert from 'node:assert/strict';
import { virtioMmioCmdline, virtioMmioSlot, VirtioLayoutError, VIRTIO_MMIO_MAX_DEVICES } from '../../../src/devices/virtio/mmio-layout.js';
import { sliceSegments } from '../../../src/devices/virtio/descriptor-chain.js';
import { IoBus } from '../../../src/vm/io-bus.js';
import { BOOT_TIMER_GPA, BOOT_TIMER_SIZE } from '../../../src/devices/boot-timer/boot-timer.js';

test('slots: 0x1000 apart from 0xd0001000, GSIs 16..23, notify at base+0x50', () => {
  assert.deepEqual(virtioMmioSlot(0), { base: 0xd0001000, size: 0x200, gsi: 16, notifyAddress: 0xd0001050 });
  assert.deepEqual(virtioMmioSlot(7), { base: 0xd0008000, size: 0x200, gsi: 23, notifyAddress: 0xd0008050 });
  assert.equal(VIRTIO_MMIO_MAX_DEVICES, 8);
  assert.throws(() => virtioMmioSlot(8), (e: Error) => e instanceof VirtioLayoutError && /at most 8/.test(e.message));
});

test('command-line declaration in the form Linux parses', () => {
  assert.equal(virtioMmioCmdline(virtioMmioSlot(0)), 'virtio_mmio.device=0x200@0xd0001000:16');
  assert.equal(virtioMmioCmdline(virtioMmioSlot(2)), 'virtio_mmio.device=0x200@0xd0003000:18');
});

test('all slots fit on the MMIO bus next to the boot timer', () => {
  const bus = new IoBus('mmio');
  bus.register(BOOT_TIMER_GPA, BOOT_TIMER_SIZE, 'boot-timer', { read: () => 0, write: () => {} });
  for (let i = 0; i < VIRTIO_MMIO_MAX_DEVICES; i++) {
    const s = virtioMmioSlot(i);
    bus.register(s.base, s.size, `virtio${i}`, { read: () => i, write: () => {} });
  }
  assert.equal(bus.read(0xd0003000, 4), 2);
});

test('sliceSegments cuts byte ranges across buffers', () => {
  const segs = [{ gpa: 100, len: 10 }, { gpa: 200, len: 5 }, { gpa: 300, len: 1 }];
  assert.deepEqual(sliceSegments(segs, 8, 4), [{ gpa: 108, len: 2 }, { gpa: 200, len: 2 }]);
  assert.deepEqual(sliceSegments(segs, 15, 1), [{ gpa: 300, len: 1 }]);
  assert.deepEqual(sliceSegments(segs, 16, 0), []);
  assert.throws(() => sliceSegments(segs, 10, 7), RangeError);
});
