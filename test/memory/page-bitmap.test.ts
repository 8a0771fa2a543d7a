/**
 * PageBitmap against a plain Set model (fast-check): set/setRange/orWords/pages/count
 * agree with the model, bits never leak past pageCount, and the word layout is KVM's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PageBitmap } from '../../src/memory/page-bitmap.js';
import { slotPagesOfWrite } from '../../src/memory/dirty-tracker.js';

type Op =
  | { kind: 'set'; page: number }
  | { kind: 'range'; first: number; count: number }
  | { kind: 'or'; pages: number[] }
  | { kind: 'clear' };

const opsFor = (n: number) =>
  fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('set' as const), page: fc.nat(n - 1) }),
      fc.nat(n - 1).chain((first) => fc.record({ kind: fc.constant('range' as const), first: fc.constant(first), count: fc.integer({ min: 0, max: n - first }) })),
      fc.record({ kind: fc.constant('or' as const), pages: fc.array(fc.nat(n - 1), { maxLength: 20 }) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    ),
    { maxLength: 30 },
  );

test('PageBitmap matches a Set model', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 700 }).chain((n) => fc.tuple(fc.constant(n), opsFor(n))), ([n, ops]) => {
      const b = new PageBitmap(n);
      const model = new Set<number>();
      for (const op of ops as Op[]) {
        if (op.kind === 'set') { b.set(op.page); model.add(op.page); }
        if (op.kind === 'range') { b.setRange(op.first, op.count); for (let p = op.first; p < op.first + op.count; p++) model.add(p); }
        if (op.kind === 'or') { b.orWords(PageBitmap.fromPages(n, op.pages).words); op.pages.forEach((p) => model.add(p)); }
        if (op.kind === 'clear') { b.clear(); model.clear(); }
      }
      const expected = [...model].sort((x, y) => x - y);
      assert.deepEqual([...b.pages()], expected);
      assert.deepEqual([...b], expected);
      assert.equal(b.count(), expected.length);
      assert.equal(b.isEmpty(), expected.length === 0);
      for (let p = -1; p <= n; p++) assert.equal(b.has(p), model.has(p));
    }),
  );
});

test('orWords drops bits past pageCount (KVM words cover whole 64-page units)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), (n) => {
      const b = new PageBitmap(n);
      const junk = new Uint32Array(b.words.length).fill(0xffffffff);
      b.orWords(junk);
      assert.equal(b.count(), n);
      const all = new PageBitmap(n);
      all.setAll();
      assert.deepEqual(b.words, all.words);
    }),
  );
});

test('word layout is KVM\'s: page i is bit i%64 of little-endian u64 word i/64', () => {
  const b = PageBitmap.fromPages(200, [0, 31, 32, 63, 64, 130, 199]);
  assert.equal(b.words.length, 8); // ceil(200/64) = 4 u64 words
  const u64 = new BigUint64Array(b.words.buffer);
  assert.equal(u64[0], (1n << 0n) | (1n << 31n) | (1n << 32n) | (1n << 63n));
  assert.equal(u64[1], 1n);
  assert.equal(u64[2], 1n << 2n);
  assert.equal(u64[3], 1n << 7n);
});

test('out-of-range pages are refused', () => {
  const b = new PageBitmap(10);
  assert.throws(() => b.set(10), RangeError);
  assert.throws(() => b.setRange(5, 6), RangeError);
  assert.throws(() => b.orWords(new Uint32Array(4)), RangeError);
});

test('slotPagesOfWrite agrees with byte-by-byte page arithmetic', () => {
  fc.assert(
    fc.property(
      fc.nat(8), fc.integer({ min: 1, max: 8 }), fc.nat(16 * 4096), fc.nat(3 * 4096),
      (slotFirstPage, slotPages, gpa, length) => {
        const slot = { gpa: slotFirstPage * 4096, size: slotPages * 4096 };
        const pages = new Set<number>();
        for (let a = gpa; a < gpa + length; a++) {
          if (a >= slot.gpa && a < slot.gpa + slot.size) pages.add(Math.floor((a - slot.gpa) / 4096));
        }
        const r = slotPagesOfWrite(slot, gpa, length);
        if (pages.size === 0) assert.equal(r, undefined);
        else assert.deepEqual(r, [Math.min(...pages), pages.size]);
      },
    ),
  );
});
