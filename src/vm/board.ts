/**
 * The KVM side of one machine instance: VM fd, guest RAM slot, in-kernel irqchip
 * and PIT, vCPU fds with CPUID/MSRs/LAPIC set. A reset throws the board away and
 * builds a new one; host-side device back ends outlive it.
 */
import * as K from '../kvm/constants.js';
import { native } from '../kvm/native.js';
import type { KvmSystem } from '../kvm/system.js';
import type { MemorySlot } from '../kvm/memory-slot.js';
import { VcpuFd } from '../kvm/vcpu-fd.js';
import { VmFd } from '../kvm/vm-fd.js';
import { GuestMemory } from '../memory/guest-memory.js';
import { buildGuestCpuid, decodeCpuid2, encodeCpuid2 } from '../x86/cpuid.js';
import { bootMsrs } from '../x86/msr.js';

/** Where KVM puts its Intel-only real-mode helpers: inside the 3..4 GiB MMIO hole, away from devices. */
const TSS_GPA = 0xfffbd000;
const IDENTITY_MAP_GPA = 0xfffbc000;

const APIC_LVT_LINT0 = 0x350;
const APIC_LVT_LINT1 = 0x360;
const APIC_MODE_EXTINT = 0x7;
const APIC_MODE_NMI = 0x4;

export class VmSetupError extends Error {
  override readonly name = 'VmSetupError';
}

export class Board {
  readonly vm: VmFd;
  readonly mem: GuestMemory;
  readonly vcpuFds: VcpuFd[] = [];
  /** KVM slot 0: all of guest RAM (dirty tracking re-registers it with logging on). */
  readonly ramSlot: MemorySlot;
  private readonly ram: ArrayBuffer;

  constructor(readonly kvm: KvmSystem, memoryBytes: number, cpuCount: number) {
    this.vm = new VmFd(kvm.createVmFd());
    try {
      this.vm.setTssAddr(TSS_GPA);
      try {
        this.vm.setIdentityMapAddr(IDENTITY_MAP_GPA);
      } catch {
        // Only VMX needs it; other backends may refuse, which is harmless.
      }
      this.vm.createIrqchip();
      this.vm.createPit2();
      this.ram = native().mmapAnonymous(memoryBytes);
      this.mem = new GuestMemory([{ gpa: 0, size: memoryBytes, bytes: new Uint8Array(this.ram) }]);
      this.ramSlot = { slot: 0, gpa: 0, size: memoryBytes, hostAddress: native().addressOf(this.ram), flags: 0 };
      this.vm.setUserMemoryRegion(this.ramSlot.slot, this.ramSlot.gpa, this.ramSlot.size, this.ramSlot.hostAddress, this.ramSlot.flags);
      const maxVcpus = kvm.checkExtension(K.KVM_CAP_MAX_VCPUS) || kvm.checkExtension(K.KVM_CAP_NR_VCPUS);
      if (cpuCount > maxVcpus) {
        throw new VmSetupError(`-smp ${cpuCount}: this host's KVM allows at most ${maxVcpus} vCPUs per VM`);
      }
      const supported = decodeCpuid2(kvm.supportedCpuid());
      const backend = kvm.backend === 'kvm_pvm' ? 'kvm_pvm' : 'hardware';
      for (let i = 0; i < cpuCount; i++) {
        const fd = new VcpuFd(this.vm.createVcpu(i), i, kvm.vcpuMmapSize);
        fd.setCpuid2(encodeCpuid2(buildGuestCpuid(supported, { vcpuIndex: i, vcpuCount: cpuCount, backend })));
        const msrs = bootMsrs();
        const accepted = fd.setMsrs(msrs);
        if (accepted < msrs.length) {
          // KVM stops at the first MSR it refuses: set the rest one by one, skipping refusals.
          for (const m of msrs.slice(accepted + 1)) fd.setMsrs([m]);
        }
        setLint(fd);
        this.vcpuFds.push(fd);
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Bytes of guest RAM the host has actually backed (pages the guest touched). */
  guestResidentBytes(): number {
    return native().residentBytes(this.ram);
  }

  destroy(): void {
    for (const v of this.vcpuFds) {
      try { v.close(); } catch { /* already closed */ }
    }
    this.vcpuFds.length = 0;
    try { this.vm.close(); } catch { /* already closed */ }
  }
}

/** LINT0 = ExtINT (the 8259 PIC's output), LINT1 = NMI, as a PC's firmware leaves them. */
function setLint(fd: VcpuFd): void {
  const lapic = fd.getLapic();
  const dv = new DataView(lapic.buffer);
  const setMode = (reg: number, mode: number) => {
    const v = dv.getUint32(reg, true);
    dv.setUint32(reg, (v & ~0x700) | (mode << 8), true);
  };
  setMode(APIC_LVT_LINT0, APIC_MODE_EXTINT);
  setMode(APIC_LVT_LINT1, APIC_MODE_NMI);
  fd.setLapic(lapic);
}
