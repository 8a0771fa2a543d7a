/** StagingPool: buffers are reused, sized to fit, bounded in number and size. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StagingPool } from '../../src/ft/staging-pool.js';

test('a returned buffer is handed out again for an epoch that fits in it', () => {
  const pool = new StagingPool(2);
  const a = pool.take(10 * 4096);
  assert.ok(a.length >= 10 * 4096);
  pool.give(a);
  assert.equal(pool.take(8 * 4096), a);
  assert.notEqual(pool.take(4096), a, 'not given back yet: a new one');
});

test('the smallest buffer that fits is chosen, and a larger epoch gets a new one', () => {
  const pool = new StagingPool(4);
  const small = pool.take(4096);
  const big = pool.take(1024 * 4096);
  pool.give(big);
  pool.give(small);
  assert.equal(pool.take(4096), small);
  assert.equal(pool.take(4096 * 10), big);
  const bigger = pool.take(4096 * 4096);
  assert.ok(bigger.length >= 4096 * 4096);
});

test('at most `keep` buffers are kept (the smallest go), and oversized ones are not kept', () => {
  const pool = new StagingPool(2, 1024 * 1024);
  const bufs = [pool.take(4096), pool.take(64 * 4096), pool.take(128 * 4096)];
  for (const b of bufs) pool.give(b);
  assert.equal(pool.size, 2);
  assert.equal(pool.take(4096), bufs[1], 'the smallest was dropped');
  pool.give(pool.take(4 * 1024 * 1024));
  assert.equal(pool.size, 1, 'a 4 MiB buffer is over the 1 MiB bound: dropped');
});
