/**
 * A bare KVM VM for low-level tests: 2 MiB of RAM, one vCPU already in 64-bit mode
 * (real mode is not run natively by every backend), running `code` at 1 MiB.
 */
import { KvmSystem } from '../../src/kvm/system.js';
import { VmFd } from '../../src/kvm/vm-fd.js';
import { VcpuFd } from '../../src/kvm/vcpu-fd.js';
import { native } from '../../src/kvm/native.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { bootRegs, longModeSregs, writeLongModeTables } from '../../src/x86/long-mode.js';

export const TINY_RAM = 2 * 1024 * 1024;
export const CODE_GPA = 0x100000;

export function longModeVm(code: number[]) {
  const kvm = KvmSystem.open();
  const vm = new VmFd(kvm.createVmFd());
  vm.setTssAddr(0xfffbd000);
  const ram = native().mmapAnonymous(TINY_RAM);
  vm.setUserMemoryRegion(0, 0, TINY_RAM, native().addressOf(ram));
  // Keep `mem` referenced for the VM's lifetime: an unreferenced ArrayBuffer is unmapped by GC.
  const mem = new GuestMemory([{ gpa: 0, size: TINY_RAM, bytes: new Uint8Array(ram) }]);
  writeLongModeTables(mem);
  mem.write(CODE_GPA, Uint8Array.from(code));
  const fd = new VcpuFd(vm.createVcpu(0), 0, kvm.vcpuMmapSize);
  fd.setSregs(longModeSregs(fd.getSregs()));
  fd.setRegs(bootRegs(CODE_GPA, 0));
  return {
    kvm, vm, fd, mem,
    close(): void {
      fd.close();
      vm.close();
      kvm.close();
    },
  };
}
