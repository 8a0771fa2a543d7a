/**
 * The native vCPU thread machinery against real KVM: port-I/O exits reach JS, a vCPU
 * spinning without exits can be kicked out of KVM_RUN, and a parked vCPU resumes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu, type VcpuStopReason } from '../../src/vm/vcpu.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { CODE_GPA, longModeVm, TINY_RAM } from '../helpers/long-mode-vm.js';

const opts = { skip: kvmSkipReason(), timeout: 20_000 };


test('port-I/O exits reach the device and a pause parks the vCPU', opts, async () => {
  // mov al,0x41; out 0x10,al; inc al; jmp back to the out
  const { fd, mem, close } = longModeVm([0xb0, 0x41, 0xe6, 0x10, 0xfe, 0xc0, 0xeb, 0xfa]);
  const seen: number[] = [];
  const pio = new IoBus('pio');
  let enough: () => void;
  const gotEnough = new Promise<void>((r) => (enough = r));
  pio.register(0x10, 1, 'probe', {
    read: () => 0,
    write: (_o, _s, v) => {
      seen.push(Number(v));
      if (seen.length === 50) enough();
    },
  });
  const stops: VcpuStopReason[] = [];
  const vcpu = new Vcpu(0, fd, {
    pio,
    mmio: new IoBus('mmio'),
    onVcpuStop: (_v, r) => {
      stops.push(r);
      enough(); // fail fast below instead of waiting forever
      return 'park';
    },
  });
  vcpu.start();
  assert.ok(vcpu.threadId > 0, 'thread id known');
  vcpu.resume();
  await gotEnough;
  assert.deepEqual(stops, []);
  await vcpu.pause();
  assert.equal(vcpu.isRunning, false);
  const n = seen.length;
  assert.deepEqual(seen.slice(0, 3), [0x41, 0x42, 0x43]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen.length, n, 'no exits while parked');
  vcpu.resume();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(seen.length > n, 'runs again after resume');
  await vcpu.pause();
  assert.deepEqual(stops, []);
  vcpu.destroy();
  assert.equal(mem.size, TINY_RAM);
  close();
});

test('a vCPU spinning without exits is kicked out of KVM_RUN', opts, async () => {
  const { fd, mem, close } = longModeVm([0xeb, 0xfe]); // jmp $
  const vcpu = new Vcpu(0, fd, { pio: new IoBus('pio'), mmio: new IoBus('mmio'), onVcpuStop: () => 'park' });
  vcpu.start();
  vcpu.resume();
  await new Promise((r) => setTimeout(r, 20));
  const t0 = process.hrtime.bigint();
  await vcpu.pause();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(vcpu.isRunning, false);
  assert.ok(ms < 2000, `kick took ${ms} ms`);
  const regs = fd.getRegs();
  assert.equal(regs.rip, BigInt(CODE_GPA), 'RIP still at the spin loop');
  vcpu.destroy();
  assert.equal(mem.size, TINY_RAM);
  close();
});

/**
 * A pause that lands while an I/O exit is serviced parks the vCPU only after KVM
 * completed that I/O: the value read is in its register and RIP is past the
 * instruction, so state captured now (a snapshot, an FT epoch) never replays the I/O.
 */
async function pauseDuringRead(code: number[], bus: 'pio' | 'mmio', at: number, len: number, nextRip: number): Promise<void> {
  // `mem` stays referenced until the end: an unreferenced guest RAM buffer is unmapped by GC.
  const { fd, mem, close } = longModeVm(code);
  const io = { pio: new IoBus('pio'), mmio: new IoBus('mmio') };
  let reads = 0;
  let vcpu: Vcpu | undefined;
  let paused: Promise<void> | undefined;
  io[bus].register(at, len, 'probe', {
    read: () => {
      reads++;
      if (reads === 5) paused = vcpu!.pause(); // the pause request arrives during the exit
      return 0x40 + reads;
    },
    write: () => {},
  });
  const stops: VcpuStopReason[] = [];
  vcpu = new Vcpu(0, fd, { ...io, onVcpuStop: (_v, r) => { stops.push(r); return 'park'; } });
  vcpu.start();
  try {
    await checkPauseDuringRead();
  } finally {
    vcpu.destroy();
    assert.equal(mem.size, TINY_RAM);
    close();
  }

  async function checkPauseDuringRead(): Promise<void> {
  vcpu!.resume();
  for (let i = 0; i < 400 && !paused && stops.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(paused, `the guest read five times (reads ${reads}, stops ${JSON.stringify(stops, (_k, v) => typeof v === 'bigint' ? v.toString(16) : v)})`);
  await paused;
  const regs = fd.getRegs();
  assert.equal(regs.rip, BigInt(CODE_GPA + nextRip), 'RIP is past the read instruction');
  assert.equal(Number(regs.rax & 0xffn), 0x45, 'the fifth value is in the register');
  assert.equal(vcpu!.completions, 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(reads, 5, 'no read replayed or run while parked');
  vcpu!.resume();
  for (let i = 0; i < 400 && reads < 8; i++) await new Promise((r) => setTimeout(r, 5));
  await vcpu!.pause();
  assert.ok(reads >= 8, 'runs on after resume');
  }
}

test('a pause during a port read completes the IN before parking', opts, async () => {
  // in al,0x10; jmp back to the in
  await pauseDuringRead([0xe4, 0x10, 0xeb, 0xfc], 'pio', 0x10, 1, 2);
});

test('a pause during an MMIO read completes the load before parking', opts, async () => {
  // mov ebx,0xd0001000; mov eax,[rbx]; jmp back to the load
  await pauseDuringRead([0xbb, 0x00, 0x10, 0x00, 0xd0, 0x8b, 0x03, 0xeb, 0xfc], 'mmio', 0xd0001000, 0x100, 7);
});
