/**
 * SplitVirtqueue's used-ring side: pushUsed / pushUsedBatch and the interrupt decision
 * after them (NO_INTERRUPT, and used_event with VIRTIO_F_RING_EVENT_IDX), on rings laid
 * out by hand in a GuestMemory over a plain buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import { VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_USED_ELEM_SIZE } from '../../../src/devices/virtio/constants.js';
import { SplitVirtqueue, type UsedElement } from '../../../src/devices/virtio/queue.js';

const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const USED_IDX = USED + 2;

interface Ring {
  mem: GuestMemory;
  q: SplitVirtqueue;
  /** Every write the queue made, in order, as [gpa, length]. */
  writes: [number, number][];
}

function ring(size = 8, opts: { eventIdx?: boolean; startUsed?: number } = {}): Ring {
  const mem = GuestMemory.fromBuffer(new Uint8Array(0x10000));
  const q = new SplitVirtqueue(0, size);
  q.descLow = DESC;
  q.driverLow = AVAIL;
  q.deviceLow = USED;
  q.ready = true;
  q.eventIdx = opts.eventIdx ?? false;
  q.nextUsed = q.lastSignalledUsed = opts.startUsed ?? 0;
  const writes: [number, number][] = [];
  mem.onWrite = (gpa, len) => writes.push([gpa, len]);
  return { mem, q, writes };
}

function usedElement(r: Ring, slot: number): UsedElement {
  const at = USED + 4 + VIRTQ_USED_ELEM_SIZE * slot;
  return { head: r.mem.readU32(at), len: r.mem.readU32(at + 4) };
}

/** The driver's used_event (last u16 of the avail ring), written as a driver would. */
function setUsedEvent(r: Ring, value: number): void {
  r.mem.writeU16(AVAIL + 4 + 2 * r.q.size, value);
  r.writes.length = 0;
}

test('pushUsedBatch writes every element, then the used index once, after them', () => {
  const r = ring(8);
  const batch = [{ head: 3, len: 100 }, { head: 0, len: 1500 }, { head: 7, len: 0 }];
  r.q.pushUsedBatch(r.mem, batch);
  assert.deepEqual([0, 1, 2].map((slot) => usedElement(r, slot)), batch);
  assert.equal(r.mem.readU16(USED_IDX), 3);
  assert.equal(r.q.nextUsed, 3);
  const indexWrites = r.writes.filter(([gpa]) => gpa === USED_IDX);
  assert.equal(indexWrites.length, 1, 'one used-index write for the whole batch');
  assert.deepEqual(r.writes.at(-1), [USED_IDX, 2], 'the index is the last write: the driver never sees part of the batch');
});

test('pushUsedBatch wraps around the ring slots and the 16-bit index', () => {
  const r = ring(4, { startUsed: 0xfffe });
  r.q.pushUsedBatch(r.mem, [{ head: 1, len: 10 }, { head: 2, len: 20 }, { head: 3, len: 30 }]);
  // 0xfffe % 4 = 2: slots 2, 3, 0.
  assert.deepEqual([2, 3, 0].map((slot) => usedElement(r, slot).head), [1, 2, 3]);
  assert.equal(r.q.nextUsed, 1);
  assert.equal(r.mem.readU16(USED_IDX), 1);
});

test('an empty batch writes nothing and asks for no interrupt', () => {
  const r = ring(8);
  r.q.pushUsedBatch(r.mem, []);
  assert.deepEqual(r.writes, []);
  assert.equal(r.q.shouldInterrupt(r.mem), false);
});

test('a batch larger than the queue is a device bug: RangeError, nothing written', () => {
  const r = ring(4);
  const five = Array.from({ length: 5 }, (_, head) => ({ head, len: 1 }));
  assert.throws(() => r.q.pushUsedBatch(r.mem, five), /a used batch of 5 entries exceeds the queue size 4/);
  assert.deepEqual(r.writes, []);
  assert.equal(r.q.nextUsed, 0);
});

test('pushUsed and pushUsedBatch leave the same ring', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.array(fc.record({ head: fc.nat(15), len: fc.nat(0xffffffff) }), { minLength: 1, maxLength: 16 }),
      (start, entries) => {
        const one = ring(16, { startUsed: start });
        const batched = ring(16, { startUsed: start });
        for (const e of entries) one.q.pushUsed(one.mem, e.head, e.len);
        batched.q.pushUsedBatch(batched.mem, entries);
        assert.equal(batched.q.nextUsed, one.q.nextUsed);
        assert.deepEqual(batched.mem.read(USED, 4 + VIRTQ_USED_ELEM_SIZE * 16), one.mem.read(USED, 4 + VIRTQ_USED_ELEM_SIZE * 16));
      },
    ),
  );
});

test('event idx: a batch interrupts when used_event lies anywhere inside it', () => {
  // The batch moves the used index from 10 to 13, i.e. publishes entries 10, 11 and 12.
  const cases: [number, boolean, string][] = [
    [9, false, 'the driver wanted entry 9, which an earlier batch already signalled'],
    [10, true, 'first entry of the batch'],
    [11, true, 'an entry in the middle: pushUsed one by one would also have interrupted for it'],
    [12, true, 'last entry of the batch'],
    [13, false, 'the driver waits for the next entry, not published yet'],
  ];
  for (const [usedEvent, expected, why] of cases) {
    const r = ring(8, { eventIdx: true, startUsed: 10 });
    setUsedEvent(r, usedEvent);
    r.q.pushUsedBatch(r.mem, [{ head: 0, len: 1 }, { head: 1, len: 1 }, { head: 2, len: 1 }]);
    assert.equal(r.q.shouldInterrupt(r.mem), expected, `used_event ${usedEvent}: ${why}`);
    assert.equal(r.q.shouldInterrupt(r.mem), false, 'nothing new since the last decision');
  }
});

test('event idx across the 16-bit wrap: interrupt iff used_event is one of the entries pushed (model check)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: -4, max: 12 }),
      (start, count, eventOffset) => {
        const r = ring(8, { eventIdx: true, startUsed: start });
        const usedEvent = (start + eventOffset) & 0xffff;
        setUsedEvent(r, usedEvent);
        r.q.pushUsedBatch(r.mem, Array.from({ length: count }, (_, head) => ({ head, len: 0 })));
        const published = Array.from({ length: count }, (_, i) => (start + i) & 0xffff);
        assert.equal(r.q.shouldInterrupt(r.mem), published.includes(usedEvent));
      },
    ),
  );
});

test('event idx: one decision after a batch equals "any" of the decisions after single pushes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 0xffff }), (start, count, usedEvent) => {
      const entries = Array.from({ length: count }, (_, head) => ({ head, len: 0 }));
      const batched = ring(8, { eventIdx: true, startUsed: start });
      setUsedEvent(batched, usedEvent);
      batched.q.pushUsedBatch(batched.mem, entries);
      const single = ring(8, { eventIdx: true, startUsed: start });
      setUsedEvent(single, usedEvent);
      let any = false;
      for (const e of entries) {
        single.q.pushUsed(single.mem, e.head, e.len);
        any = single.q.shouldInterrupt(single.mem) || any;
      }
      assert.equal(batched.q.shouldInterrupt(batched.mem), any);
    }),
  );
});

test('without event idx, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt for a batch', () => {
  for (const [flags, expected] of [[VIRTQ_AVAIL_F_NO_INTERRUPT, false], [0, true]] as const) {
    const r = ring(8);
    r.mem.writeU16(AVAIL, flags);
    setUsedEvent(r, 0xffff); // ignored without event idx
    r.q.pushUsedBatch(r.mem, [{ head: 0, len: 1 }, { head: 1, len: 1 }]);
    assert.equal(r.q.shouldInterrupt(r.mem), expected, `avail flags ${flags}`);
  }
});
