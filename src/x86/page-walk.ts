/**
 * Guest virtual → physical translation by walking the guest's 4-level page tables.
 * Used to read the instruction bytes at RIP when KVM reports an emulation failure,
 * and for `info registers`-style diagnostics. Never trusts the guest: every table
 * access is bounds-checked by GuestMemory.
 */
import type { GuestMemory } from '../memory/guest-memory.js';

const PRESENT = 1n;
const PAGE_SIZE_BIT = 1n << 7n;
const ADDR_MASK = 0x000ffffffffff000n;

export function translate(mem: GuestMemory, cr3: bigint, cr0: bigint, vaddr: bigint): number | undefined {
  if ((cr0 & (1n << 31n)) === 0n) return Number(vaddr); // paging off: physical
  let table = cr3 & ADDR_MASK;
  const shifts = [39n, 30n, 21n, 12n];
  for (let level = 0; level < 4; level++) {
    const idx = (vaddr >> shifts[level]) & 0x1ffn;
    const entryGpa = Number(table + idx * 8n);
    if (!mem.contains(entryGpa, 8)) return undefined;
    const entry = mem.readU64(entryGpa);
    if ((entry & PRESENT) === 0n) return undefined;
    if (level > 0 && level < 3 && (entry & PAGE_SIZE_BIT) !== 0n) {
      const pageMask = (1n << shifts[level]) - 1n;
      return Number((entry & ADDR_MASK & ~pageMask) | (vaddr & pageMask));
    }
    table = entry & ADDR_MASK;
  }
  return Number(table | (vaddr & 0xfffn));
}

/** Reads up to `length` bytes at a guest virtual address (stops at an unmapped page). */
export function readVirtual(mem: GuestMemory, cr3: bigint, cr0: bigint, vaddr: bigint, length: number): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    const pa = translate(mem, cr3, cr0, vaddr + BigInt(i));
    if (pa === undefined || !mem.contains(pa, 1)) break;
    out.push(mem.readU8(pa));
  }
  return Uint8Array.from(out);
}
