/** EpochClock: the epoch ends on time, or early at the dirty watermark, and never spins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EpochClock } from '../../src/ft/epoch-clock.js';

function clock(epochUs: number, watermark: number, dirty: () => number | undefined) {
  const due: { early: boolean; at: number }[] = [];
  let peeks = 0;
  const c = new EpochClock({
    epochUs: () => epochUs,
    watermarkPages: () => watermark,
    peekDirty: () => { peeks++; return dirty(); },
    onDue: (early) => due.push({ early, at: performance.now() }),
  });
  return { c, due, peeks: () => peeks };
}

test('without a watermark the epoch ends after its length, and the dirty count is never read', async () => {
  const { c, due, peeks } = clock(20_000, 0, () => 1e9);
  const t0 = performance.now();
  c.arm();
  await sleep(60);
  assert.equal(due.length, 1);
  assert.equal(due[0].early, false);
  assert.ok(due[0].at - t0 >= 19, `due after ${due[0].at - t0} ms`);
  assert.equal(peeks(), 0);
});

test('a dirty set at the watermark ends the epoch early', async () => {
  let dirty = 0;
  const { c, due } = clock(500_000, 100, () => dirty);
  c.arm();
  await sleep(30);
  assert.equal(due.length, 0, 'below the watermark: not yet');
  dirty = 100;
  await sleep(250);
  assert.equal(due.length, 1);
  assert.equal(due[0].early, true);
});

test('below the watermark the epoch still ends on time', async () => {
  const { c, due, peeks } = clock(20_000, 1000, () => 3);
  c.arm();
  await sleep(80);
  assert.equal(due.length, 1);
  assert.equal(due[0].early, false);
  assert.ok(peeks() >= 2, 'the dirty count was polled within the epoch');
});

test('a tracker that cannot peek falls back to time', async () => {
  const { c, due } = clock(20_000, 10, () => undefined);
  c.arm();
  await sleep(80);
  assert.deepEqual(due.map((d) => d.early), [false]);
});

test('re-arming while over the watermark is never due synchronously (no spin when a boundary is skipped)', async () => {
  let calls = 0;
  const c: EpochClock = new EpochClock({
    epochUs: () => 5000,
    watermarkPages: () => 1,
    peekDirty: () => 50,
    // A boundary that cannot be taken re-arms at once, as FtPrimary does with too many epochs in flight.
    onDue: () => { calls++; if (calls < 1000) c.arm(); },
  });
  c.arm();
  assert.equal(calls, 0, 'arm() itself never fires');
  await sleep(50);
  c.cancel();
  assert.ok(calls >= 3 && calls <= 60, `${calls} boundaries in 50 ms: one per poll (≥ 1 ms), not a spin`);
});

test('cancel stops the clock', async () => {
  const { c, due } = clock(10_000, 0, () => 0);
  c.arm();
  c.cancel();
  await sleep(40);
  assert.equal(due.length, 0);
});
