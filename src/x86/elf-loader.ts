/**
 * Loads an x86-64 `vmlinux` (ELF64, ET_EXEC) into guest RAM at its physical load
 * addresses. For x86-64 Linux the ELF entry point is the physical address of
 * startup_64 (vmlinux.lds.S: ENTRY(phys_startup_64)), so no translation is needed.
 * Every header field is checked before use: the image comes from the user.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { KernelFormatError } from './kernel-format-error.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_X86_64 = 0x3e;
const PT_LOAD = 1;
const ELF64_HEADER_SIZE = 64;
const ELF64_PHDR_SIZE = 56;
const PAGE = 4096;

export interface ElfSegment {
  /** Offset of the segment's bytes in the file. */
  offset: number;
  /** Guest-physical load address. */
  paddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfImage {
  entry: number;
  segments: ElfSegment[];
}

export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && ELF_MAGIC.every((b, i) => image[i] === b);
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Reads a u64 field that must fit a JS number exactly (addresses and sizes of a guest kernel do). */
function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new KernelFormatError(`ELF kernel: ${what} ${hex(v)} is out of range`);
  return Number(v);
}

/** Parses and validates the ELF headers without touching guest memory. */
export function parseElf(image: Uint8Array): ElfImage {
  if (!isElf(image)) throw new KernelFormatError('not an ELF file (no \\x7fELF magic)');
  if (image.length < ELF64_HEADER_SIZE) throw new KernelFormatError(`ELF kernel: file of ${image.length} bytes is shorter than an ELF64 header`);
  if (image[4] !== ELFCLASS64) throw new KernelFormatError('ELF kernel is not 64-bit (EI_CLASS != ELFCLASS64): use an x86-64 vmlinux');
  if (image[5] !== ELFDATA2LSB) throw new KernelFormatError('ELF kernel is not little-endian: use an x86-64 vmlinux');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_X86_64) throw new KernelFormatError(`ELF kernel is for machine ${hex(machine)}, not x86-64 (0x3e): use an x86-64 vmlinux`);
  if (type !== ET_EXEC) throw new KernelFormatError(`ELF kernel has e_type ${type}, expected ET_EXEC (2): pass the kernel's vmlinux, not a module or object file`);
  const entry = u64(dv, 24, 'e_entry');
  const phoff = u64(dv, 32, 'e_phoff');
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  if (phentsize !== ELF64_PHDR_SIZE) throw new KernelFormatError(`ELF kernel: program header size ${phentsize}, expected ${ELF64_PHDR_SIZE}`);
  if (phnum === 0) throw new KernelFormatError('ELF kernel has no program headers');
  if (phoff + phnum * phentsize > image.length) {
    throw new KernelFormatError(`ELF kernel: program headers (${phnum} at ${hex(phoff)}) run past the end of the ${image.length}-byte file (truncated image?)`);
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: u64(dv, ph + 8, 'p_offset'),
      paddr: u64(dv, ph + 24, 'p_paddr'),
      filesz: u64(dv, ph + 32, 'p_filesz'),
      memsz: u64(dv, ph + 40, 'p_memsz'),
    };
    if (seg.filesz > seg.memsz) throw new KernelFormatError(`ELF kernel: segment ${i} has p_filesz ${hex(seg.filesz)} > p_memsz ${hex(seg.memsz)}`);
    if (seg.offset + seg.filesz > image.length) {
      throw new KernelFormatError(`ELF kernel: segment ${i} (${hex(seg.offset)}+${hex(seg.filesz)}) runs past the end of the ${image.length}-byte file (truncated image?)`);
    }
    if (seg.memsz === 0) continue;
    segments.push(seg);
  }
  if (segments.length === 0) throw new KernelFormatError('ELF kernel has no loadable (PT_LOAD) segments');
  const inSegment = segments.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz);
  if (!inSegment) throw new KernelFormatError(`ELF kernel: entry point ${hex(entry)} is not inside any loaded segment`);
  return { entry, segments };
}

export interface LoadedElf {
  entry64: number;
  /** First page-aligned GPA after the highest segment. */
  loadEnd: number;
}

/** Copies every PT_LOAD segment to its p_paddr and zeroes the memsz - filesz tail (.bss). */
export function loadElf(image: Uint8Array, mem: GuestMemory): LoadedElf {
  const elf = parseElf(image);
  for (const s of elf.segments) {
    if (!mem.contains(s.paddr, s.memsz)) {
      const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
      throw new KernelFormatError(
        `kernel segment at ${hex(s.paddr)}..${hex(s.paddr + s.memsz)} (ends at ${mib(s.paddr + s.memsz)} MiB) is outside guest RAM (${mib(mem.size)} MiB): give the VM more memory (-m)`,
      );
    }
  }
  let end = 0;
  for (const s of elf.segments) {
    mem.write(s.paddr, image.subarray(s.offset, s.offset + s.filesz));
    if (s.memsz > s.filesz) mem.fill(s.paddr + s.filesz, s.memsz - s.filesz, 0);
    end = Math.max(end, s.paddr + s.memsz);
  }
  return { entry64: elf.entry, loadEnd: Math.ceil(end / PAGE) * PAGE };
}
