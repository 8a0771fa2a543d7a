import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../../../src/devices/virtio/constants.js';
import { VirtioStateError } from '../../../src/devices/virtio/errors.js';
import { FakeDriver, AVAIL_GPA, DESC_GPA } from './fake-driver.js';
import { RecordingDevice } from './recording-device.js';

const ALL = C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_FEATURES_OK | C.STATUS_DRIVER_OK;

function setup(queues: number[] = [16]) {
  const dev = new RecordingDevice(queues);
  const drv = new FakeDriver(dev, queues[0]);
  return { dev, drv };
}

test('identity registers: magic, version 2, IDs, features with VERSION_1/INDIRECT/EVENT_IDX', () => {
  const { drv } = setup();
  assert.equal(drv.r(C.REG_MAGIC_VALUE), 0x74726976);
  assert.equal(drv.r(C.REG_VERSION), 2);
  assert.equal(drv.r(C.REG_DEVICE_ID), 0x42);
  assert.equal(drv.r(C.REG_VENDOR_ID), C.VIRTIO_VENDOR_ID);
  assert.equal(drv.deviceFeatures(), (1n << 3n) | C.VIRTIO_F_VERSION_1 | C.VIRTIO_F_RING_EVENT_IDX | C.VIRTIO_F_RING_INDIRECT_DESC);
  drv.w(C.REG_DEVICE_FEATURES_SEL, 2);
  assert.equal(drv.r(C.REG_DEVICE_FEATURES), 0);
  // Only 32-bit register accesses count.
  assert.equal(drv.transport.read(C.REG_MAGIC_VALUE, 2), 0);
});

test('handshake: FEATURES_OK accepted with VERSION_1, DRIVER_OK activates with negotiated features', () => {
  const { dev, drv } = setup();
  const st = drv.negotiate(C.VIRTIO_F_VERSION_1 | (1n << 3n));
  assert.equal(st & C.STATUS_FEATURES_OK, C.STATUS_FEATURES_OK);
  drv.setupQueue();
  drv.w(C.REG_STATUS, ALL);
  assert.equal(drv.status, ALL);
  assert.equal(dev.activations, 1);
  assert.equal(dev.act?.features, C.VIRTIO_F_VERSION_1 | (1n << 3n));
  assert.equal(dev.act?.queues[0].eventIdx, false);
  // Driver features are frozen after FEATURES_OK.
  drv.w(C.REG_DRIVER_FEATURES_SEL, 0);
  drv.w(C.REG_DRIVER_FEATURES, 0xffffffff);
  assert.equal(drv.transport.negotiatedFeatures, C.VIRTIO_F_VERSION_1 | (1n << 3n));
});

test('legacy driver (no VERSION_1) and unknown features are refused: FEATURES_OK does not stick', () => {
  const { dev, drv } = setup();
  assert.equal(drv.negotiate(1n << 3n) & C.STATUS_FEATURES_OK, 0);
  assert.match(drv.warnings.join('\n'), /VIRTIO_F_VERSION_1/);
  assert.equal(drv.negotiate(C.VIRTIO_F_VERSION_1 | (1n << 40n)) & C.STATUS_FEATURES_OK, 0);
  // DRIVER_OK without FEATURES_OK is ignored; the device never starts.
  drv.w(C.REG_STATUS, C.STATUS_ACKNOWLEDGE | C.STATUS_DRIVER | C.STATUS_DRIVER_OK);
  assert.equal(drv.status & C.STATUS_DRIVER_OK, 0);
  assert.equal(dev.activations, 0);
  // Legacy QueuePFN writes are ignored with a warning.
  drv.w(C.REG_LEGACY_QUEUE_PFN, 5);
  assert.match(drv.warnings.at(-1) ?? '', /legacy/);
});

test('queue registers: NumMax per queue, 0 past the last; layout frozen once ready; reset clears all', () => {
  const { dev, drv } = setup([16, 8]);
  drv.w(C.REG_QUEUE_SEL, 1);
  assert.equal(drv.r(C.REG_QUEUE_NUM_MAX), 8);
  drv.w(C.REG_QUEUE_SEL, 2);
  assert.equal(drv.r(C.REG_QUEUE_NUM_MAX), 0);
  drv.start();
  const q = drv.transport.queues[0];
  assert.equal(q.ready, true);
  assert.equal(q.descAddr, DESC_GPA);
  drv.w(C.REG_QUEUE_SEL, 0);
  drv.w(C.REG_QUEUE_DESC_LOW, 0x9000);
  assert.equal(q.descAddr, DESC_GPA, 'ready queue layout cannot change');
  const resets = dev.resets;
  drv.w(C.REG_STATUS, 0);
  assert.equal(drv.status, 0);
  assert.equal(dev.resets, resets + 1);
  assert.equal(q.ready, false);
  assert.equal(q.descAddr, 0);
  assert.equal(drv.transport.negotiatedFeatures, 0n);
});

test('notify by register or ioeventfd path processes the queue; nothing before DRIVER_OK', () => {
  const { dev, drv } = setup();
  drv.negotiate(drv.deviceFeatures());
  drv.setupQueue();
  drv.post([{ data: Uint8Array.of(1, 2, 3) }, { writable: 4 }]);
  drv.notify();
  assert.equal(dev.chains.length, 0);
  drv.w(C.REG_STATUS, ALL);
  drv.notify();
  assert.equal(dev.chains.length, 1);
  const c = dev.chains[0];
  assert.equal(c.readableBytes, 3);
  assert.equal(c.writableBytes, 4);
  assert.deepEqual([...drv.mem.read(c.writable[0].gpa, 4)], [0xab, 0xab, 0xab, 0xab]);
  drv.post([{ writable: 2 }]);
  drv.transport.notify(0); // what the VMM calls when the queue's ioeventfd fires
  assert.equal(dev.chains.length, 2);
  assert.deepEqual(drv.takeUsed(), [{ id: 0, len: 4 }, { id: 2, len: 2 }]);
  drv.transport.notify(7); // no such queue: ignored
});

test('interrupts are level: asserted while InterruptStatus != 0, dropped by ACK, set() only on change', () => {
  const { drv } = setup();
  drv.start(C.VIRTIO_F_RING_EVENT_IDX);
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), C.INT_USED_BUFFER);
  assert.equal(drv.transport.interruptLevel, true);
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.deepEqual(drv.lineLevels, [true]);
  drv.ackInterrupt();
  assert.equal(drv.transport.interruptLevel, false);
  assert.deepEqual(drv.lineLevels, [true, false]);
});

test('VIRTQ_AVAIL_F_NO_INTERRUPT suppresses used-buffer interrupts (no event idx)', () => {
  const { drv } = setup();
  drv.start(C.VIRTIO_F_RING_EVENT_IDX);
  drv.setAvailFlags(C.VIRTQ_AVAIL_F_NO_INTERRUPT);
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.equal(drv.takeUsed().length, 1);
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 0);
  drv.setAvailFlags(0);
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 1);
});

test('event idx: interrupt only when the used index passes used_event; avail_event re-armed', () => {
  const { dev, drv } = setup();
  drv.start();
  assert.equal(dev.act?.queues[0].eventIdx, true);
  drv.setUsedEvent(2); // interrupt when used entry 2 is written (idx goes 2 -> 3)
  for (let i = 0; i < 2; i++) {
    drv.post([{ writable: 1 }]);
    drv.notify();
    assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 0, `no interrupt for used entry ${i}`);
  }
  assert.equal(drv.availEvent(), 2, 'device asks to be notified for the next avail entry');
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 1);
  // A batch that jumps over used_event still interrupts once.
  drv.ackInterrupt();
  drv.setUsedEvent(4);
  dev.autoComplete = false;
  for (let i = 0; i < 3; i++) drv.post([{ writable: 1 }]);
  drv.notify();
  const a = dev.act!;
  for (const c of dev.chains.slice(3)) a.queues[0].pushUsed(a.memory, c.head, 0);
  a.interrupt.usedBuffers(0);
  assert.equal(drv.usedIdx(), 6);
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 1);
});

test('indirect descriptors: the table is walked like a chain', () => {
  const { dev, drv } = setup();
  drv.start();
  const { head } = drv.post([{ data: Uint8Array.of(9, 9) }, { data: Uint8Array.of(8) }, { writable: 5 }], { indirect: true });
  drv.notify();
  const c = dev.chains[0];
  assert.equal(c.head, head);
  assert.equal(c.readable.length, 2);
  assert.equal(c.readableBytes, 3);
  assert.equal(c.writableBytes, 5);
  assert.deepEqual(drv.takeUsed(), [{ id: head, len: 5 }]);
});

test('indirect descriptor without the feature marks the device NEEDS_RESET with a config interrupt', () => {
  const { dev, drv } = setup();
  drv.start(C.VIRTIO_F_RING_INDIRECT_DESC);
  drv.post([{ writable: 5 }], { indirect: true });
  drv.notify();
  assert.equal(dev.chains.length, 0);
  assert.equal(drv.status & C.STATUS_DEVICE_NEEDS_RESET, C.STATUS_DEVICE_NEEDS_RESET);
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), C.INT_CONFIG_CHANGE);
  assert.match(drv.warnings.join('\n'), /INDIRECT_DESC/);
});

test('a descriptor loop marks NEEDS_RESET; later notifies are ignored until reset', () => {
  const { dev, drv } = setup();
  drv.start();
  drv.writeDesc(DESC_GPA, 0, 0x10000, 4, C.VIRTQ_DESC_F_NEXT, 1);
  drv.writeDesc(DESC_GPA, 1, 0x10010, 4, C.VIRTQ_DESC_F_NEXT, 0);
  drv.makeAvailable(0);
  drv.notify();
  assert.ok(drv.status & C.STATUS_DEVICE_NEEDS_RESET);
  assert.match(drv.warnings.join('\n'), /loops/);
  drv.post([{ writable: 1 }]);
  drv.notify();
  assert.equal(dev.chains.length, 0);
  // The driver can still write status (e.g. FAILED) but NEEDS_RESET sticks until reset.
  drv.w(C.REG_STATUS, ALL | C.STATUS_FAILED);
  assert.ok(drv.status & C.STATUS_DEVICE_NEEDS_RESET);
  drv.w(C.REG_STATUS, 0);
  assert.equal(drv.status, 0);
  assert.equal(drv.transport.interruptLevel, false);
});

test('ring areas outside RAM or misaligned at DRIVER_OK mark NEEDS_RESET', () => {
  const { dev, drv } = setup();
  drv.negotiate(drv.deviceFeatures());
  drv.setupQueue();
  drv.w(C.REG_QUEUE_SEL, 0);
  drv.w(C.REG_QUEUE_READY, 0);
  drv.w(C.REG_QUEUE_DRIVER_HIGH, 1); // 4 GiB up: outside the 1 MiB test RAM
  drv.w(C.REG_QUEUE_READY, 1);
  drv.w(C.REG_STATUS, ALL);
  assert.ok(drv.status & C.STATUS_DEVICE_NEEDS_RESET);
  assert.equal(dev.activations, 0);
  const { drv: d2 } = setup();
  d2.negotiate(d2.deviceFeatures());
  d2.setupQueue();
  d2.w(C.REG_QUEUE_READY, 0);
  d2.w(C.REG_QUEUE_NUM, 12); // not a power of two
  d2.w(C.REG_QUEUE_READY, 1);
  d2.w(C.REG_STATUS, ALL);
  assert.ok(d2.status & C.STATUS_DEVICE_NEEDS_RESET);
});

test('available index more than a queue ahead marks NEEDS_RESET', () => {
  const { drv } = setup();
  drv.start();
  drv.mem.writeU16(AVAIL_GPA + 2, 17);
  drv.notify();
  assert.ok(drv.status & C.STATUS_DEVICE_NEEDS_RESET);
});

test('config space: 1/2/4/8-byte little-endian reads, bounds, writes forwarded, generation bumps', () => {
  const { dev, drv } = setup();
  assert.equal(drv.transport.read(0x100, 1), 1);
  assert.equal(drv.transport.read(0x101, 2), 0x0302);
  assert.equal(drv.transport.read(0x104, 4), 0x08070605);
  assert.equal(drv.transport.read(0x100, 8), 0x0807060504030201n);
  assert.equal(drv.transport.read(0x106, 4), 0, 'past the config size');
  drv.transport.write(0x102, 2, 0xbeef);
  assert.deepEqual(dev.configWrites, [[2, [0xef, 0xbe]]]);
  drv.start();
  const gen = drv.r(C.REG_CONFIG_GENERATION);
  dev.act!.interrupt.configChanged();
  assert.equal(drv.r(C.REG_CONFIG_GENERATION), gen + 1);
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), C.INT_CONFIG_CHANGE);
});

test('signals from an activation are ignored after a reset', () => {
  const { dev, drv } = setup();
  drv.start();
  const old = dev.act!;
  drv.w(C.REG_STATUS, 0);
  drv.start();
  old.interrupt.needsReset('stale');
  old.interrupt.configChanged();
  assert.equal(drv.status & C.STATUS_DEVICE_NEEDS_RESET, 0);
  assert.equal(drv.r(C.REG_INTERRUPT_STATUS), 0);
});

test('state round trip: a restored transport continues the same rings', () => {
  const { dev, drv } = setup();
  drv.start();
  drv.post([{ writable: 2 }]);
  drv.notify();
  drv.post([{ writable: 3 }]); // available, not yet notified
  const saved = JSON.parse(JSON.stringify(drv.transport.saveState()));
  assert.equal(saved.queues[0].nextAvail, 1);
  assert.equal(saved.driverFeatures, drv.transport.negotiatedFeatures.toString());

  // A new VM: same RAM contents, fresh device and transport.
  const dev2 = new RecordingDevice([16]);
  const drv2 = new FakeDriver(dev2, 16);
  drv2.bytes.set(drv.bytes);
  drv2.transport.restoreState(saved);
  assert.deepEqual(drv2.lineLevels, [true], 'restored line level is applied once');
  assert.deepEqual(dev2.restored, { version: 1, chains: 1 });
  assert.equal(dev2.activations, 1);
  assert.equal(drv2.status, ALL);
  drv2.transport.notify(0);
  assert.equal(dev2.chains.length, 1);
  assert.equal(drv2.usedIdx(), 2);
  assert.deepEqual(drv2.transport.saveState().queues, { ...drv2.transport.saveState() }.queues);
  assert.equal(dev.chains.length, 1);
});

test('restore validation names the bad field', () => {
  const { drv } = setup();
  drv.start();
  const good = drv.transport.saveState();
  const bad = (patch: (s: any) => void) => {
    const s = JSON.parse(JSON.stringify(good));
    patch(s);
    return () => drv.transport.restoreState(s);
  };
  assert.throws(bad((s) => { s.version = 2; }), /version 2 is not supported/);
  assert.throws(bad((s) => { s.queues[0].nextAvail = 70000; }), (e: Error) => e instanceof VirtioStateError && /queues\[0\]\.nextAvail/.test(e.message));
  assert.throws(bad((s) => { s.queues[0].size = 32; }), /queues\[0\]\.size/);
  assert.throws(bad((s) => { s.driverFeatures = '-1'; }), /driverFeatures/);
  assert.throws(bad((s) => { s.deviceId = 2; }), /deviceId/);
  assert.throws(bad((s) => { s.queues = []; }), /has 0 queues/);
  assert.throws(bad((s) => { s.interruptStatus = 4; }), /interruptStatus/);
});
