/**
 * DirtyTracker over a model of KVM's dirty log (no /dev/kvm needed), with guest
 * writes landing at any point, including between GET and CLEAR. The property is the
 * one pre-copy migration relies on: copying the harvested pages after every harvest,
 * then once more with the guest stopped, reproduces guest RAM exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as K from '../../src/kvm/constants.js';
import type { DirtyLogVm, KvmDirtyBitmap } from '../../src/kvm/dirty-log.js';
import { GuestMemory, PAGE_SIZE } from '../../src/memory/guest-memory.js';
import { DirtyTracker, DirtyTrackerError } from '../../src/memory/dirty-tracker.js';

const PAGES = 96; // not a multiple of 64: exercises the bitmap tail

/**
 * KVM's documented behaviour, page by page: a logged page is either write-protected
 * (clean: the next guest write faults and sets its bit) or writable (already dirty).
 * Legacy GET returns the bits, clears them and write-protects those pages; manual GET
 * only reads; CLEAR cleans and re-protects the pages set in the given bitmap.
 */
class ModelKvm implements DirtyLogVm {
  manual = false;
  initiallySet = false;
  logging = false;
  readonly dirty = new Uint8Array(PAGES);
  readonly writable = new Uint8Array(PAGES).fill(1);
  /** Runs "concurrent" guest writes around each dirty-log ioctl. */
  concurrently: () => void = () => {};
  /** A broken KVM whose CLEAR cleans every page, not just the given ones (the property must catch it). */
  clearsEverything = false;
  calls: string[] = [];

  constructor(readonly ram: Uint8Array, private readonly supportedFlags = 3) {}

  checkExtension(cap: number): number {
    return cap === K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 ? this.supportedFlags : 0;
  }

  enableCap(cap: number, args: bigint[] = []): void {
    assert.equal(cap, K.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
    assert.equal(this.logging, false, 'mode changed while a log exists');
    this.manual = (args[0] & 1n) !== 0n;
    this.initiallySet = (args[0] & 2n) !== 0n;
    this.calls.push(`enableCap ${args[0]}`);
  }

  setUserMemoryRegion(slot: number, gpa: number, size: number, _host: bigint, flags: number): void {
    assert.deepEqual([slot, gpa, size], [0, 0, PAGES * PAGE_SIZE]);
    const on = (flags & K.KVM_MEM_LOG_DIRTY_PAGES) !== 0;
    if (on && !this.logging) {
      const allSet = this.manual && this.initiallySet;
      this.dirty.fill(allSet ? 1 : 0);
      this.writable.fill(allSet ? 1 : 0);
    }
    if (!on) this.writable.fill(1);
    this.logging = on;
    this.calls.push(`slot flags ${flags}`);
  }

  getDirtyLog(_slot: number, bitmap: KvmDirtyBitmap): void {
    this.concurrently();
    bitmap.words.fill(0);
    for (let p = 0; p < PAGES; p++) {
      if (!this.dirty[p]) continue;
      bitmap.words[p >>> 5] |= 1 << (p & 31);
      if (!this.manual) { this.dirty[p] = 0; this.writable[p] = 0; }
    }
    this.calls.push('GET');
    this.concurrently();
  }

  clearDirtyLog(_slot: number, first: number, num: number, bitmap: KvmDirtyBitmap): void {
    assert.deepEqual([first, num], [0, PAGES]);
    this.concurrently();
    for (let p = 0; p < PAGES; p++) {
      const asked = (bitmap.words[p >>> 5] >>> (p & 31)) & 1;
      if ((asked || this.clearsEverything) && this.dirty[p]) { this.dirty[p] = 0; this.writable[p] = 0; }
    }
    this.calls.push('CLEAR');
    this.concurrently();
  }

  /** A vCPU store: invisible to GuestMemory.onWrite, seen only through the log. */
  guestWrite(page: number, value: number): void {
    if (this.logging && !this.writable[page]) { this.dirty[page] = 1; this.writable[page] = 1; }
    this.ram[page * PAGE_SIZE + (value % PAGE_SIZE)] = value & 0xff;
  }
}

type Step =
  | { kind: 'guest'; page: number; value: number }
  | { kind: 'vmm'; gpa: number; bytes: number[] }
  | { kind: 'harvest'; racing: { page: number; value: number }[] };

const pageArb = fc.nat(PAGES - 1);
const valueArb = fc.integer({ min: 1, max: 0xffff });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('guest' as const), page: pageArb, value: valueArb }),
  fc.record({ kind: fc.constant('vmm' as const), gpa: fc.nat(PAGES * PAGE_SIZE - 10), bytes: fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 9 }) }),
  fc.record({ kind: fc.constant('harvest' as const), racing: fc.array(fc.record({ page: pageArb, value: valueArb }), { maxLength: 6 }) }),
);

/** Runs a pre-copy: returns true when the copy equals guest RAM at the end. */
function precopyConverges(steps: Step[], opts: { mode: 'auto' | 'legacy'; initiallyDirty: boolean; supportedFlags?: number; brokenClear?: boolean }): boolean {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  for (let i = 0; i < ram.length; i += 61) ram[i] = i & 0xff; // content from before tracking
  const mem = GuestMemory.fromBuffer(ram);
  const kvm = new ModelKvm(ram, opts.supportedFlags);
  kvm.clearsEverything = opts.brokenClear ?? false;
  const tracker = new DirtyTracker(kvm, { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, mem);
  tracker.start({ mode: opts.mode, initiallyDirty: opts.initiallyDirty });
  // Without initiallyDirty the destination starts from a full copy taken after start().
  const copy = opts.initiallyDirty ? new Uint8Array(ram.length) : ram.slice();
  const harvestAndCopy = () => {
    for (const p of tracker.harvest()) copy.set(ram.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), p * PAGE_SIZE);
  };
  for (const s of steps) {
    if (s.kind === 'guest') kvm.guestWrite(s.page, s.value);
    if (s.kind === 'vmm') mem.write(s.gpa, Uint8Array.from(s.bytes));
    if (s.kind === 'harvest') {
      // Spread the racing guest writes over the points around GET and CLEAR.
      const racing = [...s.racing];
      kvm.concurrently = () => { const w = racing.shift(); if (w) kvm.guestWrite(w.page, w.value); };
      harvestAndCopy();
      kvm.concurrently = () => {};
      racing.forEach((w) => kvm.guestWrite(w.page, w.value));
    }
  }
  harvestAndCopy(); // guest stopped: the last round
  tracker.stop();
  return Buffer.compare(copy, ram) === 0;
}

const steps = fc.array(stepArb, { maxLength: 40 });

for (const mode of ['auto', 'legacy'] as const) {
  for (const initiallyDirty of [false, true]) {
    test(`pre-copy over harvests reproduces RAM (${mode}, initiallyDirty=${initiallyDirty})`, () => {
      fc.assert(fc.property(steps, (s) => precopyConverges(s, { mode, initiallyDirty })), { numRuns: 300 });
    });
  }
}

test('pre-copy also converges when KVM has manual protect without INITIALLY_SET', () => {
  for (const initiallyDirty of [false, true]) {
    fc.assert(fc.property(steps, (s) => precopyConverges(s, { mode: 'auto', initiallyDirty, supportedFlags: 1 })), { numRuns: 200 });
  }
});

test('the property catches a lost write: CLEAR that cleans more than was harvested', () => {
  // A guest write to a clean page between GET and CLEAR is what a clear-everything loses.
  const loses: Step[] = [{ kind: 'harvest', racing: [{ page: 3, value: 7 }, { page: 5, value: 9 }] }];
  assert.equal(precopyConverges(loses, { mode: 'auto', initiallyDirty: false, brokenClear: true }), false);
  assert.equal(precopyConverges(loses, { mode: 'auto', initiallyDirty: false }), true);
});

test('harvest reports exactly the guest and VMM writes since the previous harvest', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const mem = GuestMemory.fromBuffer(ram);
  const kvm = new ModelKvm(ram);
  const tracker = new DirtyTracker(kvm, { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, mem);
  tracker.start();
  assert.equal(tracker.mode, 'manual-protect');
  assert.deepEqual([...tracker.harvest()], []);
  kvm.guestWrite(4, 1);
  kvm.guestWrite(70, 1);
  mem.writeU32(10 * PAGE_SIZE - 2, 0xffffffff); // straddles pages 9 and 10
  mem.fill(90 * PAGE_SIZE, 3 * PAGE_SIZE, 1); // pages 90..92
  assert.deepEqual([...tracker.harvest()], [4, 9, 10, 70, 90, 91, 92]);
  assert.deepEqual([...tracker.harvest()], []);
  kvm.guestWrite(4, 2);
  assert.deepEqual([...tracker.harvest()], [4]);
  tracker.stop();
  assert.equal(kvm.logging, false);
});

test('legacy mode never calls CLEAR; manual mode skips it when nothing is dirty', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const slot = { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 };
  const legacy = new ModelKvm(ram);
  const t1 = new DirtyTracker(legacy, slot, GuestMemory.fromBuffer(ram));
  t1.start({ mode: 'legacy' });
  legacy.guestWrite(1, 1);
  t1.harvest();
  t1.stop();
  assert.deepEqual(legacy.calls, ['enableCap 0', 'slot flags 1', 'GET', 'slot flags 0']);

  const manual = new ModelKvm(ram);
  const t2 = new DirtyTracker(manual, slot, GuestMemory.fromBuffer(ram));
  t2.start();
  t2.harvest();
  manual.guestWrite(1, 1);
  t2.harvest();
  assert.deepEqual(manual.calls, ['enableCap 3', 'slot flags 1', 'CLEAR', 'GET', 'GET', 'CLEAR']);
});

test('no manual-protect capability: legacy mode', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const kvm = new ModelKvm(ram, 0);
  const t = new DirtyTracker(kvm, { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, GuestMemory.fromBuffer(ram));
  t.start();
  assert.equal(t.mode, 'legacy');
  assert.deepEqual(kvm.calls, ['slot flags 1']);
});

test('the VMM write hook chains with an existing onWrite and is removed by stop()', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const mem = GuestMemory.fromBuffer(ram);
  const seen: number[] = [];
  const original = (gpa: number) => { seen.push(gpa); };
  mem.onWrite = original;
  const t = new DirtyTracker(new ModelKvm(ram), { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, mem);
  t.start();
  mem.writeU8(5 * PAGE_SIZE, 1);
  assert.deepEqual(seen, [5 * PAGE_SIZE]);
  assert.deepEqual([...t.harvest()], [5]);
  t.stop();
  assert.equal(mem.onWrite, original);

  // Someone chains on top while tracking: stop() must not unlink them.
  t.start();
  const later: number[] = [];
  const ours: (gpa: number, length: number) => void = mem.onWrite!;
  mem.onWrite = (gpa, len) => { ours(gpa, len); later.push(gpa); };
  t.stop();
  mem.writeU8(6 * PAGE_SIZE, 1);
  assert.deepEqual(later, [6 * PAGE_SIZE]);
  assert.deepEqual(seen, [5 * PAGE_SIZE, 6 * PAGE_SIZE]);
  t.start();
  mem.writeU8(7 * PAGE_SIZE, 1);
  assert.deepEqual([...t.harvest()], [7], 'tracking again through a fresh hook');
  assert.deepEqual(seen, [5 * PAGE_SIZE, 6 * PAGE_SIZE, 7 * PAGE_SIZE], 'the original still sees each write once');
  t.stop();
});

test('misuse is a DirtyTrackerError', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const mem = GuestMemory.fromBuffer(ram);
  const kvm = new ModelKvm(ram);
  const slot = { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 };
  const t = new DirtyTracker(kvm, slot, mem);
  assert.throws(() => t.harvest(), DirtyTrackerError);
  t.start();
  assert.throws(() => t.start(), DirtyTrackerError);
  t.stop();
  assert.throws(() => new DirtyTracker(kvm, { ...slot, size: 100 }, mem), DirtyTrackerError);
  assert.throws(() => new DirtyTracker(kvm, { ...slot, size: ram.length * 2 }, mem), DirtyTrackerError);
});

test('peekCount counts the pages of the running interval without harvesting them (manual protect only)', () => {
  const ram = new Uint8Array(PAGES * PAGE_SIZE);
  const mem = GuestMemory.fromBuffer(ram);
  const kvm = new ModelKvm(ram);
  const tracker = new DirtyTracker(kvm, { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, mem);
  tracker.start();
  assert.equal(tracker.peekCount(), 0);
  kvm.guestWrite(4, 1);
  kvm.guestWrite(70, 1);
  mem.writeU32(4 * PAGE_SIZE, 7); // the guest wrote page 4 too: counted once
  mem.writeU32(90 * PAGE_SIZE, 7);
  assert.equal(tracker.peekCount(), 3);
  assert.equal(tracker.peekCount(), 3, 'peeking changes nothing');
  assert.deepEqual([...tracker.harvest()], [4, 70, 90], 'the harvest still reports every page');
  assert.equal(tracker.peekCount(), 0);
  kvm.guestWrite(5, 1);
  assert.equal(tracker.peekCount(), 1);
  tracker.stop();

  const legacy = new DirtyTracker(new ModelKvm(ram), { slot: 0, gpa: 0, size: ram.length, hostAddress: 0n, flags: 0 }, mem);
  legacy.start({ mode: 'legacy' });
  assert.equal(legacy.peekCount(), undefined, 'legacy GET would clear the log: no peeking');
  legacy.stop();
});
