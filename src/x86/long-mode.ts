/**
 * The CPU state a 64-bit Linux kernel expects at its 64-bit entry (boot protocol
 * "64-bit boot"): long mode with paging on, an identity map covering the kernel,
 * boot_params and the command line, flat __BOOT_CS/__BOOT_DS segments, RSI -> boot_params.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import type { Regs, Segment, Sregs } from '../kvm/structs.js';

export const GDT_GPA = 0x500;
export const IDT_GPA = 0x520;
export const PML4_GPA = 0x9000;
export const PDPT_GPA = 0xa000;
/** Four page directories (0xb000..0xefff) map the first 4 GiB with 2 MiB pages. */
export const PD_GPA = 0xb000;
export const BOOT_STACK_GPA = 0x8ff0;

const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;

/** GDT entries as Linux's boot protocol wants them: 0x10 = code, 0x18 = data, 0x20 = TSS. */
const GDT_ENTRIES: bigint[] = [
  0n,
  0n,
  0x00af9b000000ffffn, // 64-bit code, present, DPL0, G
  0x00cf93000000ffffn, // data, present, DPL0, G, 32-bit
  0x008f8b000000ffffn, // busy 64-bit TSS (KVM needs a usable TR)
];

function segmentFromGdt(selector: number, entry: bigint): Segment {
  const bits = (lo: bigint, n: bigint) => Number((entry >> lo) & ((1n << n) - 1n));
  const base = BigInt(bits(16n, 24n) | (bits(56n, 8n) << 24));
  let limit = bits(0n, 16n) | (bits(48n, 4n) << 16);
  const g = bits(55n, 1n);
  if (g) limit = ((limit << 12) | 0xfff) >>> 0;
  return {
    base, limit, selector,
    type: bits(40n, 4n), s: bits(44n, 1n), dpl: bits(45n, 2n), present: bits(47n, 1n),
    avl: bits(52n, 1n), l: bits(53n, 1n), db: bits(54n, 1n), g, unusable: 0,
  };
}

/** Writes the GDT, an empty IDT and identity-mapping page tables into guest RAM. */
export function writeLongModeTables(mem: GuestMemory): void {
  GDT_ENTRIES.forEach((e, i) => mem.writeU64(GDT_GPA + i * 8, e));
  mem.writeU64(IDT_GPA, 0n);
  mem.fill(PML4_GPA, 0x6000, 0);
  mem.writeU64(PML4_GPA, BigInt(PDPT_GPA) | 0x3n); // present | writable
  for (let pd = 0; pd < 4; pd++) {
    const pdGpa = PD_GPA + pd * 0x1000;
    mem.writeU64(PDPT_GPA + pd * 8, BigInt(pdGpa) | 0x3n);
    for (let i = 0; i < 512; i++) {
      const phys = (BigInt(pd) << 30n) | (BigInt(i) << 21n);
      mem.writeU64(pdGpa + i * 8, phys | 0x83n); // present | writable | 2 MiB page
    }
  }
}

/** Special registers for the 64-bit entry, starting from what KVM_GET_SREGS returned. */
export function longModeSregs(base: Sregs): Sregs {
  const code = segmentFromGdt(0x10, GDT_ENTRIES[2]);
  const data = segmentFromGdt(0x18, GDT_ENTRIES[3]);
  const tss = segmentFromGdt(0x20, GDT_ENTRIES[4]);
  return {
    ...base,
    cs: code, ds: data, es: data, fs: data, gs: data, ss: data, tr: tss,
    gdt: { base: BigInt(GDT_GPA), limit: GDT_ENTRIES.length * 8 - 1 },
    idt: { base: BigInt(IDT_GPA), limit: 7 },
    cr0: base.cr0 | CR0_PE | CR0_PG | CR0_ET,
    cr3: BigInt(PML4_GPA),
    cr4: base.cr4 | CR4_PAE,
    efer: base.efer | EFER_LME | EFER_LMA,
  };
}

export function bootRegs(entry64: number, bootParamsGpa: number): Regs {
  const z = 0n;
  return {
    rax: z, rbx: z, rcx: z, rdx: z, rsi: BigInt(bootParamsGpa), rdi: z,
    rsp: BigInt(BOOT_STACK_GPA), rbp: BigInt(BOOT_STACK_GPA),
    r8: z, r9: z, r10: z, r11: z, r12: z, r13: z, r14: z, r15: z,
    rip: BigInt(entry64), rflags: 0x2n,
  };
}

/** struct kvm_fpu with the reset values of FCW and MXCSR (what Linux expects after a reset). */
export function bootFpu(): Uint8Array {
  const buf = new Uint8Array(416);
  const dv = new DataView(buf.buffer);
  dv.setUint16(128, 0x37f, true); // fcw
  dv.setUint32(408, 0x1f80, true); // mxcsr
  return buf;
}
