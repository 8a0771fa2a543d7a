/**
 * Direct Linux boot: puts the kernel, initrd, command line, MP table, e820 map and
 * boot_params into guest RAM and points vCPU 0 at the kernel's 64-bit entry.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import type { VcpuFd } from '../kvm/vcpu-fd.js';
import { buildBootParams } from '../x86/boot-params.js';
import { e820Map } from '../x86/e820.js';
import { loadKernel } from '../x86/kernel-loader.js';
import { CMDLINE_GPA, CMDLINE_MAX, MPTABLE_GPA, ZERO_PAGE_GPA, initrdAddrMaxFromHeader, placeInitrd } from '../x86/layout.js';
import { bootFpu, bootRegs, longModeSregs, writeLongModeTables } from '../x86/long-mode.js';
import { buildMpTable } from '../x86/mptable.js';

export class CmdlineTooLongError extends Error {
  override readonly name = 'CmdlineTooLongError';
}

export interface BootImages {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
}

export interface BootInfo {
  kind: 'bzImage' | 'elf';
  entry64: number;
  initrdGpa?: number;
}

export function loadForBoot(mem: GuestMemory, images: BootImages, cpuCount: number, bsp: VcpuFd): BootInfo {
  const kernel = loadKernel(images.kernel, mem);
  const cmdline = new TextEncoder().encode(images.cmdline + '\0');
  if (cmdline.length > CMDLINE_MAX) {
    throw new CmdlineTooLongError(`kernel command line is ${cmdline.length} bytes, the limit is ${CMDLINE_MAX}: shorten -append`);
  }
  mem.write(CMDLINE_GPA, cmdline);
  let initrdGpa: number | undefined;
  if (images.initrd) {
    const addrMax = initrdAddrMaxFromHeader(kernel.setupHeader);
    initrdGpa = placeInitrd(mem.size, images.initrd.length, addrMax, kernel.loadEnd);
    mem.write(initrdGpa, images.initrd);
  }
  mem.write(MPTABLE_GPA, buildMpTable(cpuCount, MPTABLE_GPA));
  const bootParams = buildBootParams({
    setupHeader: kernel.setupHeader,
    cmdlineGpa: CMDLINE_GPA,
    cmdlineSize: cmdline.length - 1,
    initrdGpa,
    initrdSize: images.initrd?.length,
    e820: e820Map(mem.size),
  });
  mem.write(ZERO_PAGE_GPA, bootParams);
  writeLongModeTables(mem);
  bsp.setSregs(longModeSregs(bsp.getSregs()));
  bsp.setRegs(bootRegs(kernel.entry64, ZERO_PAGE_GPA));
  bsp.setFpu(bootFpu());
  return { kind: kernel.kind, entry64: kernel.entry64, initrdGpa };
}
