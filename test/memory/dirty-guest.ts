/**
 * Tiny guests for dirty-tracking tests: a long-mode VM (test/helpers/long-mode-vm.ts)
 * whose vCPU parks at every `out 0x10`, so a test can run the guest phase by phase,
 * plus the few x86 encodings the guest programs need.
 */
import { native } from '../../src/kvm/native.js';
import type { MemorySlot } from '../../src/kvm/memory-slot.js';
import { IoBus } from '../../src/vm/io-bus.js';
import { Vcpu, type VcpuStopReason } from '../../src/vm/vcpu.js';
import { longModeVm, TINY_RAM } from '../helpers/long-mode-vm.js';

export const PHASE_PORT = 0x10;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

export const asm = {
  /** mov dword [addr], imm (addr < 2 GiB) */
  movDword: (addr: number, imm: number) => [0xc7, 0x04, 0x25, ...le32(addr), ...le32(imm)],
  /** out 0x10, al: ends a phase (the vCPU parks) */
  endPhase: () => [0xe6, PHASE_PORT],
  /** jmp $ */
  spin: () => [0xeb, 0xfe],
  /**
   * Forever: for rbx = first, first+4K, ... < end: mov [rbx], ++rax. Every store
   * writes a new value, so a missed dirty page shows up as stale data in a copy.
   */
  pageSweepLoop: (first: number, end: number) => [
    0xbb, ...le32(first), //                  mov ebx, first
    0x48, 0xff, 0xc0, //                      inc rax
    0x48, 0x89, 0x03, //                      mov [rbx], rax
    0x48, 0x81, 0xc3, ...le32(0x1000), //     add rbx, 0x1000
    0x48, 0x81, 0xfb, ...le32(end), //        cmp rbx, end
    0x72, 0xea, //                            jb  inc rax (rel -22)
    0xeb, 0xe3, //                            jmp mov ebx (rel -29)
  ],
};

export function phasedGuest(code: number[]) {
  const vm = longModeVm(code);
  const ram = vm.mem.regions[0].bytes;
  const slot: MemorySlot = { slot: 0, gpa: 0, size: TINY_RAM, hostAddress: native().addressOf(ram.buffer as ArrayBuffer), flags: 0 };
  const stops: VcpuStopReason[] = [];
  let phaseEnded: (() => void) | undefined;
  const pio = new IoBus('pio');
  const vcpu: Vcpu = new Vcpu(0, vm.fd, {
    pio,
    mmio: new IoBus('mmio'),
    onVcpuStop: (_v, r) => {
      stops.push(r);
      phaseEnded?.();
      return 'park';
    },
  });
  pio.register(PHASE_PORT, 1, 'phase-end', {
    read: () => 0,
    write: () => {
      void vcpu.pause(); // parks as soon as this exit is handled
      phaseEnded?.();
    },
  });
  vcpu.start();
  return {
    ...vm,
    slot,
    vcpu,
    /** Resumes the guest until its next `out 0x10`; the vCPU is parked on return. */
    async runPhase(): Promise<void> {
      const ended = new Promise<void>((r) => (phaseEnded = r));
      vcpu.resume();
      await ended;
      await vcpu.pause();
      if (stops.length) throw new Error(`guest stopped: ${JSON.stringify(stops, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    },
    destroy(): void {
      vcpu.destroy();
      vm.close();
    },
  };
}
