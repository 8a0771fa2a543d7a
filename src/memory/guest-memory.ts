/**
 * Guest physical memory as seen by the VMM: one host mapping per RAM region,
 * addressed by guest-physical address (GPA). Every access from device code goes
 * through the bounds checks here, so a guest-supplied address can never make the
 * VMM read or write outside guest RAM.
 */

export class GuestMemoryError extends Error {
  override readonly name = 'GuestMemoryError';
}

export interface RamRegion {
  /** Guest-physical start address. */
  readonly gpa: number;
  /** Size in bytes (a multiple of the page size). */
  readonly size: number;
  /** The host mapping (shared with KVM); views are created over it, never copies. */
  readonly bytes: Uint8Array;
}

export const PAGE_SIZE = 4096;

export class GuestMemory {
  readonly regions: readonly RamRegion[];
  /** Total bytes of guest RAM. */
  readonly size: number;

  constructor(regions: RamRegion[]) {
    const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i - 1].gpa + sorted[i - 1].size > sorted[i].gpa) throw new GuestMemoryError('RAM regions overlap');
    }
    this.regions = sorted;
    this.size = sorted.reduce((n, r) => n + r.size, 0);
  }

  /** A plain buffer as guest RAM at GPA 0 (unit tests of devices and boot structures). */
  static fromBuffer(bytes: Uint8Array, gpa = 0): GuestMemory {
    return new GuestMemory([{ gpa, size: bytes.length, bytes }]);
  }

  private regionFor(gpa: number, length: number): RamRegion {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(length) || gpa < 0 || length < 0) {
      throw new GuestMemoryError(`invalid guest address range 0x${gpa.toString(16)}+${length}`);
    }
    for (const r of this.regions) {
      if (gpa >= r.gpa && gpa + length <= r.gpa + r.size) return r;
    }
    throw new GuestMemoryError(`guest address range 0x${gpa.toString(16)}+${length} is outside RAM`);
  }

  /** True when [gpa, gpa+length) lies inside one RAM region. */
  contains(gpa: number, length: number): boolean {
    try {
      this.regionFor(gpa, length);
      return true;
    } catch {
      return false;
    }
  }

  /** A view (no copy) of guest RAM; throws GuestMemoryError when out of bounds. */
  view(gpa: number, length: number): Uint8Array {
    const r = this.regionFor(gpa, length);
    const off = gpa - r.gpa;
    return r.bytes.subarray(off, off + length);
  }

  read(gpa: number, length: number): Uint8Array {
    return this.view(gpa, length).slice();
  }

  write(gpa: number, data: Uint8Array): void {
    this.view(gpa, data.length).set(data);
    this.onWrite?.(gpa, data.length);
  }

  fill(gpa: number, length: number, value = 0): void {
    this.view(gpa, length).fill(value);
    this.onWrite?.(gpa, length);
  }

  private dv(gpa: number, length: number): DataView {
    const v = this.view(gpa, length);
    return new DataView(v.buffer, v.byteOffset, length);
  }

  readU8(gpa: number): number { return this.view(gpa, 1)[0]; }
  readU16(gpa: number): number { return this.dv(gpa, 2).getUint16(0, true); }
  readU32(gpa: number): number { return this.dv(gpa, 4).getUint32(0, true); }
  readU64(gpa: number): bigint { return this.dv(gpa, 8).getBigUint64(0, true); }
  writeU8(gpa: number, v: number): void { this.view(gpa, 1)[0] = v; this.onWrite?.(gpa, 1); }
  writeU16(gpa: number, v: number): void { this.dv(gpa, 2).setUint16(0, v, true); this.onWrite?.(gpa, 2); }
  writeU32(gpa: number, v: number): void { this.dv(gpa, 4).setUint32(0, v, true); this.onWrite?.(gpa, 4); }
  writeU64(gpa: number, v: bigint): void { this.dv(gpa, 8).setBigUint64(0, v, true); this.onWrite?.(gpa, 8); }

  /**
   * Reports a write the VMM made through a `view()` (e.g. an async file read straight into
   * guest RAM), so `onWrite` sees it like the write paths above. Bounds-checked.
   */
  markWritten(gpa: number, length: number): void {
    this.regionFor(gpa, length);
    this.onWrite?.(gpa, length);
  }

  /**
   * Called after every VMM write into guest RAM. KVM's dirty log does not see
   * writes made by the VMM itself, so migration and replication hook in here.
   */
  onWrite?: (gpa: number, length: number) => void;
}
