import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteRangeOverlay, applyExtents, coversRange } from '../../../src/ft/output/byte-range-overlay.js';

const SIZE = 96;
const NOT_HELD = -1;

test('a newer write splits an older extent; zeros for a discard; removeThrough forgets old buckets only', () => {
  const o = new ByteRangeOverlay();
  o.put(0, 10, new Uint8Array(10).fill(1), 0);
  o.put(3, 4, new Uint8Array(4).fill(2), 1);
  o.put(8, 4, null, 1);
  const buf = new Uint8Array(12).fill(9);
  applyExtents(o.overlapping(0, 12), 0, buf);
  assert.deepEqual([...buf], [1, 1, 1, 2, 2, 2, 2, 1, 0, 0, 0, 0]);
  assert.equal(o.extentCount, 4);
  o.removeThrough(0);
  const after = o.overlapping(0, 12);
  assert.deepEqual(after.map((e) => [e.start, e.end]), [[3, 7], [8, 12]]);
  assert.equal(coversRange(after, 3, 7), true);
  assert.equal(coversRange(after, 3, 8), false);
});

test('property: the overlay describes every byte by the last put that touched it', () => {
  const put = fc.record({
    start: fc.integer({ min: 0, max: SIZE - 1 }),
    length: fc.integer({ min: 1, max: 40 }),
    zero: fc.boolean(),
    bucket: fc.integer({ min: 0, max: 5 }),
  });
  fc.assert(
    fc.property(fc.array(put, { maxLength: 40 }), fc.integer({ min: -1, max: 5 }), fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 1, max: SIZE }), (puts, removeBucket, qStart, qLen) => {
      const o = new ByteRangeOverlay();
      // Model: per byte, [value, bucket] of the last put, or NOT_HELD.
      const value = new Array<number>(SIZE).fill(NOT_HELD);
      const owner = new Array<number>(SIZE).fill(NOT_HELD);
      puts.forEach((p, n) => {
        const length = Math.min(p.length, SIZE - p.start);
        const data = p.zero ? null : Uint8Array.from({ length }, (_, i) => (n * 13 + i) % 251 + 1);
        o.put(p.start, length, data, p.bucket);
        for (let i = 0; i < length; i++) {
          value[p.start + i] = data ? data[i] : 0;
          owner[p.start + i] = p.bucket;
        }
      });
      if (removeBucket >= 0) {
        o.removeThrough(removeBucket);
        for (let i = 0; i < SIZE; i++) if (owner[i] !== NOT_HELD && owner[i] <= removeBucket) value[i] = owner[i] = NOT_HELD;
      }
      const end = Math.min(SIZE, qStart + qLen);
      const snap = o.overlapping(qStart, end);
      const buf = new Uint8Array(end - qStart).fill(0xff); // 0xff never written: marks "from the image"
      applyExtents(snap, qStart, buf);
      const expected = value.slice(qStart, end).map((v) => (v === NOT_HELD ? 0xff : v));
      assert.deepEqual([...buf], expected);
      assert.equal(coversRange(snap, qStart, end), expected.every((_, i) => value[qStart + i] !== NOT_HELD));
      // Sorted, non-overlapping, never empty.
      const all = o.overlapping(0, SIZE);
      for (let i = 0; i < all.length; i++) {
        assert.ok(all[i].start < all[i].end);
        if (i > 0) assert.ok(all[i - 1].end <= all[i].start);
      }
    }),
    { numRuns: 500 },
  );
});
