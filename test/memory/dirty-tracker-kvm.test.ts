/**
 * DirtyTracker against real KVM: a guest writes a known set of pages (reported
 * exactly, together with VMM writes), and a guest sweeping pages non-stop while the
 * host harvests and copies: the copy must end up identical to guest RAM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { KvmSystem } from '../../src/kvm/system.js';
import { PAGE_SIZE } from '../../src/memory/guest-memory.js';
import { DirtyTracker } from '../../src/memory/dirty-tracker.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { TINY_RAM } from '../helpers/long-mode-vm.js';
import { CounterVm, COUNTER_GPA } from '../snapshot/counter-vm.js';
import { asm, phasedGuest } from './dirty-guest.js';

const opts = { skip: kvmSkipReason(), timeout: 30_000 };
const page = (gpa: number) => Math.floor(gpa / PAGE_SIZE);

for (const mode of ['auto', 'legacy'] as const) {
  test(`vCPU parked: harvest reports exactly the pages the guest and the VMM wrote (${mode})`, opts, async () => {
    const WARM_UP = 0x180000;
    const targets = [0x110000, 0x133008, 0x1a0ffe /* straddles two pages */, TINY_RAM - 4 /* last dword of RAM */];
    const g = phasedGuest([
      ...asm.movDword(WARM_UP, 1), ...asm.endPhase(),
      ...targets.flatMap((a) => asm.movDword(a, 0xabcd1234)), ...asm.endPhase(),
      ...asm.spin(),
    ]);
    const tracker = new DirtyTracker(g.vm, g.slot, g.mem);
    try {
      tracker.start({ mode });
      if (mode === 'legacy') assert.equal(tracker.mode, 'legacy');
      // Phase 1 lets the CPU set its page-table accessed/dirty bits, which are writes too.
      await g.runPhase();
      assert.ok(tracker.harvest().has(page(WARM_UP)));

      await g.runPhase();
      g.mem.write(0x1c0005, Uint8Array.of(1, 2, 3));
      g.mem.writeU32(0x1d0ffe, 0xffffffff); // straddles two pages
      const expected = [0x110, 0x133, 0x1a0, 0x1a1, 0x1c0, 0x1d0, 0x1d1, page(TINY_RAM - 1)];
      if (mode === 'auto' && tracker.mode === 'manual-protect') assert.equal(tracker.peekCount(), expected.length, 'peekCount sees the same pages');
      assert.deepEqual([...tracker.harvest()], expected);
      assert.equal(g.mem.readU32(0x133008), 0xabcd1234, 'the guest really ran phase 2');
      assert.deepEqual([...tracker.harvest()], [], 'nothing written since');
    } finally {
      tracker.stop();
      g.destroy();
    }
  });

  test(`vCPU running: harvest-and-copy rounds converge to an exact copy of RAM (${mode})`, opts, async () => {
    const SWEEP_FIRST = 0x110000;
    const SWEEP_END = 0x1f0000;
    const g = phasedGuest(asm.pageSweepLoop(SWEEP_FIRST, SWEEP_END));
    const tracker = new DirtyTracker(g.vm, g.slot, g.mem);
    const ram = g.mem.regions[0].bytes;
    // The destination starts empty: round 0 (initiallyDirty) must deliver every page.
    const copy = new Uint8Array(TINY_RAM);
    const copyPages = (pages: Iterable<number>) => {
      for (const p of pages) copy.set(ram.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), p * PAGE_SIZE);
    };
    try {
      tracker.start({ mode, initiallyDirty: true });
      const round0 = tracker.harvest();
      assert.equal(round0.count(), TINY_RAM / PAGE_SIZE, 'round 0 is all of RAM');
      copyPages(round0);
      g.vcpu.resume();
      let guestPagesSeen = 0;
      let rounds = 0;
      const allowed = (p: number) => (p >= page(SWEEP_FIRST) && p < page(SWEEP_END)) || p >= 0x1f0 || p < 0x100;
      const deadline = Date.now() + 400;
      while (Date.now() < deadline) {
        await sleep(2 + (rounds % 5) * 2);
        g.mem.writeU32(0x1f0000 + (rounds % 15) * PAGE_SIZE + 100, rounds); // VMM writes racing the guest
        const dirty = tracker.harvest();
        copyPages(dirty); // copy after harvest returned: the contract
        for (const p of dirty) {
          assert.ok(allowed(p), `page 0x${p.toString(16)} was never written`);
          if (p >= page(SWEEP_FIRST) && p < page(SWEEP_END)) guestPagesSeen++;
        }
        rounds++;
      }
      await g.vcpu.pause();
      copyPages(tracker.harvest()); // the stop-and-copy round
      const sweeps = g.fd.getRegs().rax;
      assert.ok(sweeps > 10_000n, `guest made ${sweeps} stores`);
      assert.ok(guestPagesSeen > 0, 'harvests while running saw guest writes');
      for (let p = 0; p < TINY_RAM / PAGE_SIZE; p++) {
        const a = p * PAGE_SIZE;
        if (Buffer.compare(copy.subarray(a, a + PAGE_SIZE), ram.subarray(a, a + PAGE_SIZE)) !== 0) {
          assert.fail(`page 0x${p.toString(16)} differs after ${rounds} rounds: a write was not reported`);
        }
      }
    } finally {
      tracker.stop();
      g.destroy();
    }
  });
}

test('a Board\'s RAM slot can be tracked and untracked while its guest runs', opts, async () => {
  const kvm = KvmSystem.open();
  const cvm = new CounterVm(kvm, true);
  const tracker = new DirtyTracker(cvm.board.vm, cvm.board.ramSlot, cvm.board.mem);
  try {
    tracker.start();
    await cvm.runFor(3);
    const dirty = tracker.harvest();
    assert.ok(dirty.has(page(COUNTER_GPA)), 'the counter page');
    assert.ok(dirty.count() < 16, `only a few pages: ${[...dirty].map((p) => p.toString(16))}`);
    tracker.stop();
    const before = cvm.counter;
    await cvm.runFor(3);
    assert.ok(cvm.counter > before, 'the guest still runs with logging off');
  } finally {
    tracker.stop();
    cvm.destroy();
    kvm.close();
  }
});
