/**
 * The native vCPU thread machinery against real KVM: port-I/O exits reach JS, a vCPU
 * spinning without exits can be kicked out of KVM_RUN, and a parked vCPU resumes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvmSystem } from '../../src/kvm/system.js';
import { VmFd } from '../../src/kvm/vm-fd.js';
import { VcpuFd } from '../../src/kvm/vcpu-fd.js';
import { native } from '../../src/kvm/native.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu, type VcpuStopReason } from '../../src/vm/vcpu.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../src/x86/long-mode.js';

const RAM = 2 * 1024 * 1024;
const CODE = 0x100000;
const opts = { skip: kvmSkipReason(), timeout: 20_000 };

/** A VM in 64-bit mode (real mode is not run natively by every backend) running `code` at 1 MiB. */
function longModeVm(code: number[]) {
  const kvm = KvmSystem.open();
  const vm = new VmFd(kvm.createVmFd());
  vm.setTssAddr(0xfffbd000);
  const ram = native().mmapAnonymous(RAM);
  vm.setUserMemoryRegion(0, 0, RAM, native().addressOf(ram));
  const mem = new GuestMemory([{ gpa: 0, size: RAM, bytes: new Uint8Array(ram) }]);
  writeLongModeTables(mem);
  mem.write(CODE, Uint8Array.from(code));
  const fd = new VcpuFd(vm.createVcpu(0), 0, kvm.vcpuMmapSize);
  fd.setSregs(longModeSregs(fd.getSregs()));
  fd.setRegs(bootRegs(CODE, 0));
  return { kvm, vm, fd, mem };
}

test('port-I/O exits reach the device and a pause parks the vCPU', opts, async () => {
  // mov al,0x41; out 0x10,al; inc al; jmp back to the out
  // `mem` keeps the RAM mapping alive: an unreferenced ArrayBuffer is unmapped by GC.
  const { kvm, vm, fd, mem } = longModeVm([0xb0, 0x41, 0xe6, 0x10, 0xfe, 0xc0, 0xeb, 0xfa]);
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
  assert.equal(mem.size, RAM);
  fd.close();
  vm.close();
  kvm.close();
});

test('a vCPU spinning without exits is kicked out of KVM_RUN', opts, async () => {
  const { kvm, vm, fd, mem } = longModeVm([0xeb, 0xfe]); // jmp $
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
  assert.equal(regs.rip, BigInt(CODE), 'RIP still at the spin loop');
  vcpu.destroy();
  assert.equal(mem.size, RAM);
  fd.close();
  vm.close();
  kvm.close();
});
