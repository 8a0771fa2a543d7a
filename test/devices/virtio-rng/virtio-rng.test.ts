import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../../src/devices/virtio/constants.js';
import { VirtioRng } from '../../../src/devices/virtio-rng/virtio-rng.js';
import { VirtioStateError } from '../../../src/devices/virtio/errors.js';
import { FakeDriver } from '../virtio/fake-driver.js';

test('virtio-rng: device ID 4, no config, fills every writable buffer and reports its length', () => {
  const drv = new FakeDriver(new VirtioRng(), 64);
  assert.equal(drv.r(C.REG_DEVICE_ID), C.VIRTIO_ID_RNG);
  assert.equal(drv.r(C.REG_QUEUE_NUM_MAX), 64);
  assert.equal(drv.transport.read(0x100, 4), 0, 'no config space');
  drv.start();
  const dirty: [number, number][] = [];
  drv.mem.onWrite = (gpa, len) => dirty.push([gpa, len]);
  const { head, buffers } = drv.post([{ writable: 64 }, { writable: 32 }]);
  drv.notify();
  assert.deepEqual(drv.takeUsed(), [{ id: head, len: 96 }]);
  for (const b of buffers) {
    const bytes = drv.mem.read(b.gpa, b.len);
    assert.ok(bytes.some((x) => x !== 0), 'random bytes written');
    assert.ok(dirty.some(([g, l]) => g === b.gpa && l === b.len), 'dirty tracking saw the fill');
  }
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), C.INT_USED_BUFFER);
});

test('virtio-rng: two requests get different bytes; state is versioned', () => {
  const rng = new VirtioRng();
  const drv = new FakeDriver(rng, 64);
  drv.start();
  const a = drv.post([{ writable: 32 }]).buffers[0];
  const b = drv.post([{ writable: 32 }]).buffers[0];
  drv.notify();
  assert.notDeepEqual(drv.mem.read(a.gpa, 32), drv.mem.read(b.gpa, 32));
  assert.deepEqual(rng.saveState(), { version: 1 });
  assert.throws(() => rng.restoreState({ version: 9 }), VirtioStateError);
});

test('virtio-rng: buffers posted before a snapshot are served after restore', () => {
  const drv = new FakeDriver(new VirtioRng(), 64);
  drv.start();
  drv.post([{ writable: 8 }]); // posted, never notified
  const saved = JSON.parse(JSON.stringify(drv.transport.saveState()));
  const drv2 = new FakeDriver(new VirtioRng(), 64);
  drv2.bytes.set(drv.bytes);
  drv2.transport.restoreState(saved);
  assert.equal(drv2.usedIdx(), 1);
});
