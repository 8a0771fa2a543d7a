/**
 * Port-I/O and MMIO dispatch: a sorted list of non-overlapping ranges, each served by
 * a device. Accesses nobody claims read as all ones and are ignored on write, as on a PC bus.
 */

export interface BusDevice {
  /** `offset` is relative to the range's base; `size` is 1, 2, 4 or 8 bytes. */
  read(offset: number, size: number): number | bigint;
  write(offset: number, size: number, value: number | bigint): void;
}

interface Range {
  base: number;
  length: number;
  name: string;
  device: BusDevice;
}

export class BusConflictError extends Error {
  override readonly name = 'BusConflictError';
}

export class IoBus {
  private ranges: Range[] = [];
  /** Counts of accesses nobody claimed, for diagnostics (`info` and tests). */
  readonly unclaimed = new Map<number, number>();

  constructor(readonly kind: 'pio' | 'mmio') {}

  register(base: number, length: number, name: string, device: BusDevice): void {
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new BusConflictError(`${this.kind} range 0x${base.toString(16)}+${length} (${name}) overlaps ${r.name}`);
      }
    }
    this.ranges.push({ base, length, name, device });
    this.ranges.sort((a, b) => a.base - b.base);
  }

  private find(addr: number): Range | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid];
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  read(addr: number, size: number): number | bigint {
    const r = this.find(addr);
    if (!r) {
      this.unclaimed.set(addr, (this.unclaimed.get(addr) ?? 0) + 1);
      return size >= 8 ? 0xffffffffffffffffn : 2 ** (size * 8) - 1;
    }
    return r.device.read(addr - r.base, size);
  }

  write(addr: number, size: number, value: number | bigint): void {
    const r = this.find(addr);
    if (!r) {
      this.unclaimed.set(addr, (this.unclaimed.get(addr) ?? 0) + 1);
      return;
    }
    r.device.write(addr - r.base, size, value);
  }
}
