/**
 * The BIOS e820 memory map Linux reads from boot_params: which guest-physical ranges
 * are usable RAM and which are reserved. Matches layout.ts: RAM from 0 with the
 * EBDA/BIOS area reserved, and RAM beyond 3 GiB moved above the 4 GiB mark.
 */
import { EBDA_START, HIGH_MEMORY_START, ramRanges } from './layout.js';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
/** boot_params has room for 128 entries. */
export const E820_MAX_ENTRIES = 128;

export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

export class E820Error extends Error {
  override readonly name = 'E820Error';
}

/** RAM ranges minus the reserved ones, plus the reserved ones themselves, sorted by address. */
function carve(ram: E820Entry[], reserved: { addr: number; size: number }[]): E820Entry[] {
  let out = ram;
  for (const r of reserved) {
    const next: E820Entry[] = [];
    for (const e of out) {
      const end = e.addr + e.size;
      const rEnd = r.addr + r.size;
      if (e.type !== E820_RAM || rEnd <= e.addr || r.addr >= end) {
        next.push(e);
        continue;
      }
      if (r.addr > e.addr) next.push({ addr: e.addr, size: r.addr - e.addr, type: E820_RAM });
      if (rEnd < end) next.push({ addr: rEnd, size: end - rEnd, type: E820_RAM });
    }
    next.push({ addr: r.addr, size: r.size, type: E820_RESERVED });
    out = next;
  }
  return out.sort((a, b) => a.addr - b.addr);
}

/**
 * e820 map for a guest with `ramSize` bytes of RAM. `reserved` ranges (e.g. a region the
 * VMM keeps for itself inside RAM) are cut out of RAM and reported as reserved.
 */
export function e820Map(ramSize: number, reserved: { addr: number; size: number }[] = []): E820Entry[] {
  if (!Number.isSafeInteger(ramSize) || ramSize < 2 * HIGH_MEMORY_START) {
    throw new E820Error(`guest RAM of ${ramSize} bytes is too small: give the VM at least 2 MiB (-m)`);
  }
  for (const r of reserved) {
    if (!Number.isSafeInteger(r.addr) || !Number.isSafeInteger(r.size) || r.addr < 0 || r.size <= 0) {
      throw new E820Error(`invalid reserved range 0x${r.addr.toString(16)}+${r.size}`);
    }
  }
  const sorted = [...reserved].sort((a, b) => a.addr - b.addr);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1].addr + sorted[i - 1].size > sorted[i].addr) throw new E820Error('reserved ranges overlap');
  }
  const ram: E820Entry[] = [];
  for (const { gpa, size } of ramRanges(ramSize)) {
    if (gpa === 0) ram.push({ addr: 0, size: EBDA_START, type: E820_RAM }, { addr: HIGH_MEMORY_START, size: size - HIGH_MEMORY_START, type: E820_RAM });
    else ram.push({ addr: gpa, size, type: E820_RAM });
  }
  const map = carve(ram, [{ addr: EBDA_START, size: HIGH_MEMORY_START - EBDA_START }, ...reserved]);
  if (map.length > E820_MAX_ENTRIES) throw new E820Error(`e820 map has ${map.length} entries; boot_params holds at most ${E820_MAX_ENTRIES}`);
  return map;
}
