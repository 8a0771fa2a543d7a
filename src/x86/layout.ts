/**
 * Where the VMM puts boot structures in guest-physical memory, how guest RAM is laid
 * out around the 3..4 GiB MMIO hole, and where the initrd goes. Everything below 1 MiB
 * except the EBDA/BIOS area is ordinary RAM to the kernel once it has read these structures.
 */
import { GDT_GPA, PML4_GPA } from './long-mode.js';
import { HDR_INITRD_ADDR_MAX, HDR_VERSION, SETUP_HEADER_START } from './setup-header.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** GDT (defined with the long-mode setup, re-exported for one view of the layout). */
export { GDT_GPA };
/** Page tables: PML4 at 0x9000, PDPT and four page directories after it (..0xefff). */
export const PAGE_TABLES_GPA = PML4_GPA;
/** boot_params, the "zero page"; RSI points here at the 64-bit entry. */
export const ZERO_PAGE_GPA = 0x7000;
/** Kernel command line (NUL-terminated). */
export const CMDLINE_GPA = 0x20000;
/** Bytes reserved for the command line, its terminating NUL included. */
export const CMDLINE_MAX = 64 * KiB;
/** Start of the reserved EBDA + BIOS area; Linux scans the last KiB below 640 KiB for the MP floating pointer. */
export const EBDA_START = 0x9fc00;
export const MPTABLE_GPA = EBDA_START;
export const HIGH_MEMORY_START = 0x100000;
/** 3..4 GiB is left for MMIO (IOAPIC at 0xfec00000, LAPIC at 0xfee00000, device windows). */
export const MMIO_HOLE_START = 3 * GiB;
export const MMIO_HOLE_END = 4 * GiB;
/** Highest initrd address when the kernel does not say (boot protocol < 2.03 default, also the usual value). */
export const DEFAULT_INITRD_ADDR_MAX = 0x37ffffff;

export interface RamRange {
  gpa: number;
  size: number;
}

/** Guest RAM regions for `ramSize` bytes: below the MMIO hole first, the rest from 4 GiB up. */
export function ramRanges(ramSize: number): RamRange[] {
  if (ramSize <= MMIO_HOLE_START) return [{ gpa: 0, size: ramSize }];
  return [
    { gpa: 0, size: MMIO_HOLE_START },
    { gpa: MMIO_HOLE_END, size: ramSize - MMIO_HOLE_START },
  ];
}

const PAGE = 4096;
/** initrd_addr_max appeared in boot protocol 2.03. */
const PROTOCOL_WITH_INITRD_ADDR_MAX = 0x0203;

export class InitrdTooLargeError extends Error {
  override readonly name = 'InitrdTooLargeError';
}

/** initrd_addr_max from a bzImage setup header (as LoadedKernel.setupHeader), or the default. */
export function initrdAddrMaxFromHeader(setupHeader?: Uint8Array): number {
  if (!setupHeader) return DEFAULT_INITRD_ADDR_MAX;
  const dv = new DataView(setupHeader.buffer, setupHeader.byteOffset, setupHeader.byteLength);
  const at = (off: number) => off - SETUP_HEADER_START;
  if (setupHeader.length < at(HDR_INITRD_ADDR_MAX) + 4) return DEFAULT_INITRD_ADDR_MAX;
  if (dv.getUint16(at(HDR_VERSION), true) < PROTOCOL_WITH_INITRD_ADDR_MAX) return DEFAULT_INITRD_ADDR_MAX;
  return dv.getUint32(at(HDR_INITRD_ADDR_MAX), true) || DEFAULT_INITRD_ADDR_MAX;
}

function mibText(n: number): string {
  return `${Math.ceil(n / MiB)} MiB`;
}

/**
 * GPA for an initrd of `initrdSize` bytes: as high as possible in low RAM (below the MMIO
 * hole), page aligned, as boot loaders do, so it stays out of the kernel's way.
 * `initrdAddrMax` is the highest byte address the initrd may occupy (the header's
 * initrd_addr_max; default 0x37ffffff); `minGpa` is the first byte it may use (pass
 * LoadedKernel.loadEnd so it cannot overlap the kernel).
 */
export function placeInitrd(ramSize: number, initrdSize: number, initrdAddrMax = DEFAULT_INITRD_ADDR_MAX, minGpa = HIGH_MEMORY_START): number {
  const limit = Math.min(ramSize, MMIO_HOLE_START, initrdAddrMax + 1, DEFAULT_INITRD_ADDR_MAX + 1);
  const start = Math.floor((limit - initrdSize) / PAGE) * PAGE;
  if (initrdSize <= 0 || start >= Math.ceil(minGpa / PAGE) * PAGE) return start;
  const needed = Math.ceil(minGpa / PAGE) * PAGE + Math.ceil(initrdSize / PAGE) * PAGE;
  const addressLimit = Math.min(MMIO_HOLE_START, initrdAddrMax + 1, DEFAULT_INITRD_ADDR_MAX + 1);
  if (needed > addressLimit) {
    throw new InitrdTooLargeError(
      `initrd of ${mibText(initrdSize)} cannot fit between the kernel (ends at ${mibText(minGpa)}) and the highest initrd address the kernel accepts (${mibText(addressLimit)}): use a smaller initrd`,
    );
  }
  throw new InitrdTooLargeError(
    `initrd of ${mibText(initrdSize)} does not fit in ${mibText(ramSize)} of guest RAM above the kernel (ends at ${mibText(minGpa)}): raise -m to at least ${mibText(needed + 64 * MiB)}`,
  );
}
