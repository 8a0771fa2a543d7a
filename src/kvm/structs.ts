/**
 * Byte layouts of the KVM structs we pass through ioctl, per
 * /usr/include/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h (x86-64).
 * Offsets were checked with offsetof() against the installed headers.
 */

export interface Regs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

export const REG_NAMES = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
] as const satisfies readonly (keyof Regs)[];

export const REGS_SIZE = 144;

export function decodeRegs(buf: Uint8Array): Regs {
  const dv = new DataView(buf.buffer, buf.byteOffset, REGS_SIZE);
  const r = {} as Regs;
  REG_NAMES.forEach((n, i) => { r[n] = dv.getBigUint64(i * 8, true); });
  return r;
}

export function encodeRegs(r: Regs): Uint8Array {
  const buf = new Uint8Array(REGS_SIZE);
  const dv = new DataView(buf.buffer);
  REG_NAMES.forEach((n, i) => dv.setBigUint64(i * 8, BigInt.asUintN(64, r[n]), true));
  return buf;
}

export interface Segment {
  base: bigint; limit: number; selector: number;
  type: number; present: number; dpl: number; db: number; s: number; l: number; g: number; avl: number;
  unusable: number;
}

export interface DTable { base: bigint; limit: number }

export interface Sregs {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment; tr: Segment; ldt: Segment;
  gdt: DTable; idt: DTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint; efer: bigint; apicBase: bigint;
  /** Pending external interrupt bitmap (256 bits). */
  interruptBitmap: [bigint, bigint, bigint, bigint];
}

export const SREGS_SIZE = 312;
const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;

function decodeSegment(dv: DataView, off: number): Segment {
  return {
    base: dv.getBigUint64(off, true), limit: dv.getUint32(off + 8, true), selector: dv.getUint16(off + 12, true),
    type: dv.getUint8(off + 14), present: dv.getUint8(off + 15), dpl: dv.getUint8(off + 16), db: dv.getUint8(off + 17),
    s: dv.getUint8(off + 18), l: dv.getUint8(off + 19), g: dv.getUint8(off + 20), avl: dv.getUint8(off + 21),
    unusable: dv.getUint8(off + 22),
  };
}

function encodeSegment(dv: DataView, off: number, s: Segment): void {
  dv.setBigUint64(off, s.base, true); dv.setUint32(off + 8, s.limit >>> 0, true); dv.setUint16(off + 12, s.selector, true);
  dv.setUint8(off + 14, s.type); dv.setUint8(off + 15, s.present); dv.setUint8(off + 16, s.dpl); dv.setUint8(off + 17, s.db);
  dv.setUint8(off + 18, s.s); dv.setUint8(off + 19, s.l); dv.setUint8(off + 20, s.g); dv.setUint8(off + 21, s.avl);
  dv.setUint8(off + 22, s.unusable); dv.setUint8(off + 23, 0);
}

export function decodeSregs(buf: Uint8Array): Sregs {
  const dv = new DataView(buf.buffer, buf.byteOffset, SREGS_SIZE);
  const seg = Object.fromEntries(SEGMENTS.map((n, i) => [n, decodeSegment(dv, i * 24)])) as Record<typeof SEGMENTS[number], Segment>;
  const u64 = (o: number) => dv.getBigUint64(o, true);
  return {
    ...seg,
    gdt: { base: u64(192), limit: dv.getUint16(200, true) },
    idt: { base: u64(208), limit: dv.getUint16(216, true) },
    cr0: u64(224), cr2: u64(232), cr3: u64(240), cr4: u64(248), cr8: u64(256), efer: u64(264), apicBase: u64(272),
    interruptBitmap: [u64(280), u64(288), u64(296), u64(304)],
  };
}

export function encodeSregs(s: Sregs): Uint8Array {
  const buf = new Uint8Array(SREGS_SIZE);
  const dv = new DataView(buf.buffer);
  SEGMENTS.forEach((n, i) => encodeSegment(dv, i * 24, s[n]));
  dv.setBigUint64(192, s.gdt.base, true); dv.setUint16(200, s.gdt.limit, true);
  dv.setBigUint64(208, s.idt.base, true); dv.setUint16(216, s.idt.limit, true);
  const regs = [s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer, s.apicBase, ...s.interruptBitmap];
  regs.forEach((v, i) => dv.setBigUint64(224 + i * 8, v, true));
  return buf;
}

/** struct kvm_userspace_memory_region */
export function encodeMemoryRegion(slot: number, flags: number, gpa: number, size: number, hostAddr: bigint): Uint8Array {
  const buf = new Uint8Array(32);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, slot, true);
  dv.setUint32(4, flags, true);
  dv.setBigUint64(8, BigInt(gpa), true);
  dv.setBigUint64(16, BigInt(size), true);
  dv.setBigUint64(24, hostAddr, true);
  return buf;
}

/** struct kvm_msrs with entries { u32 index; u32 reserved; u64 data }. */
export function encodeMsrs(entries: { index: number; data: bigint }[]): Uint8Array {
  const buf = new Uint8Array(8 + 16 * entries.length);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, entries.length, true);
  entries.forEach((e, i) => {
    dv.setUint32(8 + i * 16, e.index, true);
    dv.setBigUint64(8 + i * 16 + 8, BigInt.asUintN(64, e.data), true);
  });
  return buf;
}

export function decodeMsrs(buf: Uint8Array, count: number): { index: number; data: bigint }[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: { index: number; data: bigint }[] = [];
  for (let i = 0; i < count; i++) out.push({ index: dv.getUint32(8 + i * 16, true), data: dv.getBigUint64(8 + i * 16 + 8, true) });
  return out;
}

/** struct kvm_irq_level { u32 irq; u32 level; } */
export function encodeIrqLevel(irq: number, level: number): Uint8Array {
  const buf = new Uint8Array(8);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, irq, true);
  dv.setUint32(4, level, true);
  return buf;
}
