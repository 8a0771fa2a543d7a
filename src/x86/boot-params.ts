/**
 * boot_params, the "zero page" (Documentation/arch/x86/zero-page.rst and boot.rst):
 * the 4 KiB structure RSI points to at the 64-bit entry. It carries the setup header,
 * the command line and initrd location, and the e820 memory map.
 */
import { E820_MAX_ENTRIES, type E820Entry } from './e820.js';
import {
  BOOT_FLAG_MAGIC, HDR_BOOT_FLAG, HDR_CMD_LINE_PTR, HDR_CMDLINE_SIZE, HDR_HEADER, HDR_HEAP_END_PTR,
  HDR_KERNEL_ALIGNMENT, HDR_LOADFLAGS, HDR_RAMDISK_IMAGE, HDR_RAMDISK_SIZE, HDR_TYPE_OF_LOADER, HDR_VERSION,
  HDRS_MAGIC, LOADFLAG_CAN_USE_HEAP, LOADFLAG_LOADED_HIGH, SETUP_HEADER_START,
} from './setup-header.js';

export const BOOT_PARAMS_SIZE = 4096;
/** Fields outside the setup header (zero-page.rst). */
export const BP_EXT_RAMDISK_IMAGE = 0x0c0;
export const BP_EXT_RAMDISK_SIZE = 0x0c4;
export const BP_EXT_CMD_LINE_PTR = 0x0c8;
export const BP_E820_ENTRIES = 0x1e8;
export const BP_SENTINEL = 0x1ef;
export const BP_E820_TABLE = 0x2d0;
export const E820_ENTRY_SIZE = 20;
/** The setup header must end before the next boot_params field (edd_mbr_sig_buffer at 0x290). */
const SETUP_HEADER_LIMIT = 0x290;

/** type_of_loader 0xff: "undefined" boot loader (boot.rst), what VMMs without an assigned id use. */
const LOADER_TYPE_UNDEFINED = 0xff;
/** Synthesized header: protocol 2.15, the newest whose fields we fill. */
const SYNTH_PROTOCOL = 0x020f;
/** Linux's default CONFIG_PHYSICAL_ALIGN, stated in the header a real bzImage would carry. */
const SYNTH_KERNEL_ALIGNMENT = 0x1000000;
/** Real-mode heap end as boot.rst suggests (0xfe00 - 0x200); unused at the 64-bit entry but expected with CAN_USE_HEAP. */
const HEAP_END_PTR = 0xfe00 - 0x200;

export class BootParamsError extends Error {
  override readonly name = 'BootParamsError';
}

export interface BootParamsInput {
  /** Setup header from the bzImage (bytes 0x1f1..), or undefined for an ELF kernel. */
  setupHeader?: Uint8Array;
  cmdlineGpa: number;
  /** Length of the command line in bytes (the kernel reads up to the NUL; this is informational). */
  cmdlineSize: number;
  initrdGpa?: number;
  initrdSize?: number;
  e820: E820Entry[];
}

function lo32(n: number): number {
  return n % 2 ** 32;
}
function hi32(n: number): number {
  return Math.floor(n / 2 ** 32);
}

export function buildBootParams(input: BootParamsInput): Uint8Array {
  const bp = new Uint8Array(BOOT_PARAMS_SIZE);
  const dv = new DataView(bp.buffer);
  if (input.setupHeader) {
    if (SETUP_HEADER_START + input.setupHeader.length > SETUP_HEADER_LIMIT) {
      throw new BootParamsError(`setup header of ${input.setupHeader.length} bytes does not fit boot_params (max ${SETUP_HEADER_LIMIT - SETUP_HEADER_START})`);
    }
    bp.set(input.setupHeader, SETUP_HEADER_START);
  } else {
    dv.setUint16(HDR_BOOT_FLAG, BOOT_FLAG_MAGIC, true);
    dv.setUint32(HDR_HEADER, HDRS_MAGIC, true);
    dv.setUint16(HDR_VERSION, SYNTH_PROTOCOL, true);
    dv.setUint32(HDR_KERNEL_ALIGNMENT, SYNTH_KERNEL_ALIGNMENT, true);
  }
  bp[BP_SENTINEL] = 0; // non-zero makes the kernel assume a broken loader and wipe fields
  bp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  bp[HDR_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
  dv.setUint16(HDR_HEAP_END_PTR, HEAP_END_PTR, true);

  checkAddress('command line', input.cmdlineGpa, input.cmdlineSize);
  dv.setUint32(HDR_CMD_LINE_PTR, lo32(input.cmdlineGpa), true);
  dv.setUint32(BP_EXT_CMD_LINE_PTR, hi32(input.cmdlineGpa), true);
  dv.setUint32(HDR_CMDLINE_SIZE, input.cmdlineSize, true);

  if (input.initrdSize !== undefined && input.initrdSize > 0) {
    if (input.initrdGpa === undefined) throw new BootParamsError('initrdSize given without initrdGpa');
    checkAddress('initrd', input.initrdGpa, input.initrdSize);
    dv.setUint32(HDR_RAMDISK_IMAGE, lo32(input.initrdGpa), true);
    dv.setUint32(BP_EXT_RAMDISK_IMAGE, hi32(input.initrdGpa), true);
    dv.setUint32(HDR_RAMDISK_SIZE, lo32(input.initrdSize), true);
    dv.setUint32(BP_EXT_RAMDISK_SIZE, hi32(input.initrdSize), true);
  }

  if (input.e820.length === 0 || input.e820.length > E820_MAX_ENTRIES) {
    throw new BootParamsError(`e820 map must have 1..${E820_MAX_ENTRIES} entries, got ${input.e820.length}`);
  }
  bp[BP_E820_ENTRIES] = input.e820.length;
  input.e820.forEach((e, i) => {
    const off = BP_E820_TABLE + i * E820_ENTRY_SIZE;
    dv.setBigUint64(off, BigInt(e.addr), true);
    dv.setBigUint64(off + 8, BigInt(e.size), true);
    dv.setUint32(off + 16, e.type, true);
  });
  return bp;
}

function checkAddress(what: string, gpa: number, size: number): void {
  if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(size) || gpa < 0 || size < 0 || gpa + size > 2 ** 64) {
    throw new BootParamsError(`invalid ${what} location 0x${gpa.toString(16)}+${size}`);
  }
}
