/**
 * stagePages copies exactly RAM at the boundary (whatever the guest writes afterwards)
 * from any form of dirty set; applyPages writes data and zero pages and checks
 * everything before it writes anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GuestMemory } from '../../../src/memory/guest-memory.js';
import { PageBitmap } from '../../../src/memory/page-bitmap.js';
import { applyPages, stagePages } from '../../../src/ft/wire/stage-pages.js';
import { PAGE, patternRam, RAM_PAGES } from './fixtures.js';

const page = (b: Uint8Array, i: number) => Buffer.from(b.buffer, b.byteOffset + i * PAGE, PAGE);

test('staged pages equal RAM at staging time, from lists, bitmaps and GuestMemory', () => {
  fc.assert(fc.property(fc.array(fc.nat(RAM_PAGES - 1), { maxLength: 100 }), fc.nat(255), (pages, seed) => {
    const ram = patternRam(seed);
    const expected = [...new Set(pages)].sort((a, b) => a - b);
    const forms = [pages, PageBitmap.fromPages(RAM_PAGES, pages), Uint32Array.from(expected)];
    for (const form of forms) {
      for (const memory of [ram, GuestMemory.fromBuffer(ram)]) {
        const staged = stagePages(memory, form);
        assert.deepEqual([...staged.pageNumbers], expected);
        assert.equal(staged.pageData.length, expected.length * PAGE);
        expected.forEach((p, i) => assert.ok(page(staged.pageData, i).equals(page(ram, p)), `page ${p}`));
      }
    }
  }));
});

test('the guest rewriting a page after the pause does not change the staged copy', () => {
  const ram = patternRam(1);
  const before = Buffer.from(page(ram, 7));
  const staged = stagePages(ram, [6, 7, 8]);
  ram.fill(0xaa, 7 * PAGE, 8 * PAGE);
  assert.ok(page(staged.pageData, 1).equals(before));
});

test('a large enough staging buffer is reused, a small one is not', () => {
  const ram = patternRam(2);
  const pool = new Uint8Array(4 * PAGE);
  const reused = stagePages(ram, [1, 2], pool);
  assert.equal(reused.pageData.buffer, pool.buffer);
  assert.equal(reused.pageData.length, 2 * PAGE);
  const fresh = stagePages(ram, [1, 2, 3, 4, 5], pool);
  assert.notEqual(fresh.pageData.buffer, pool.buffer);
  assert.ok(page(fresh.pageData, 4).equals(page(ram, 5)));
});

test('pages outside RAM are refused', () => {
  assert.throws(() => stagePages(patternRam(0), [RAM_PAGES]), /page 64 is outside guest RAM \(64 pages\)/);
});

test('applyPages writes data pages and clears zero pages, nothing else', () => {
  const ram = patternRam(3);
  const target = new Uint8Array(ram.length).fill(0x55);
  const staged = stagePages(ram, [0, 1, 2, 9, 63]);
  applyPages({ ...staged, zeroPages: Uint32Array.from([3, 4, 40]) }, target);
  for (let p = 0; p < RAM_PAGES; p++) {
    const want = [0, 1, 2, 9, 63].includes(p) ? page(ram, p) : [3, 4, 40].includes(p) ? Buffer.alloc(PAGE) : Buffer.alloc(PAGE, 0x55);
    assert.ok(page(target, p).equals(want), `page ${p}`);
  }
});

test('applyPages checks the whole epoch before writing a byte', () => {
  const target = new Uint8Array(RAM_PAGES * PAGE).fill(0x55);
  const pristine = Buffer.from(target);
  const staged = stagePages(patternRam(4), [1, 2]);
  assert.throws(() => applyPages({ ...staged, zeroPages: Uint32Array.from([RAM_PAGES]) }, target), /outside guest RAM/);
  assert.throws(() => applyPages({ ...staged, pageData: staged.pageData.subarray(PAGE) }, target), /pageData holds 4096 bytes, 2 pages need 8192/);
  assert.throws(() => applyPages({ ...staged, zeroPages: Uint32Array.from([2]) }, target), /page 2 is in both/);
  assert.throws(() => applyPages({ pageNumbers: Uint32Array.from([2, 1]), pageData: staged.pageData }, target), /strictly ascending/);
  assert.ok(Buffer.from(target).equals(pristine));
});
