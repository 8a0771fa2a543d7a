/**
 * Loads a guest kernel given as a bzImage or an ELF vmlinux. A bzImage's payload is
 * decompressed on the host (see decompress.ts for why) and loaded as the ELF it contains;
 * its setup header is kept for boot_params. The vCPU then starts at the 64-bit entry.
 */
import type { GuestMemory } from '../memory/guest-memory.js';
import { isBzImage, parseBzImage } from './bzimage.js';
import { decompressPayload } from './decompress.js';
import { isElf, loadElf } from './elf-loader.js';
import { KernelFormatError } from './kernel-format-error.js';

export { KernelFormatError } from './kernel-format-error.js';
export { isBzImage } from './bzimage.js';
export { isElf } from './elf-loader.js';

export interface LoadedKernel {
  kind: 'bzImage' | 'elf';
  /** GPA of the 64-bit entry point (startup_64). */
  entry64: number;
  /** bzImage bytes 0x1f1..end of setup header, to copy into boot_params at 0x1f1. */
  setupHeader?: Uint8Array;
  /** First free (page-aligned) GPA after the kernel. */
  loadEnd: number;
  /** Compression of the bzImage payload ('gzip', 'xz', ...). */
  payloadFormat?: string;
}

export function loadKernel(image: Uint8Array, mem: GuestMemory): LoadedKernel {
  if (isElf(image)) {
    const { entry64, loadEnd } = loadElf(image, mem);
    return { kind: 'elf', entry64, loadEnd };
  }
  if (isBzImage(image)) {
    const bz = parseBzImage(image);
    const { data, format } = decompressPayload(bz.payload);
    if (!isElf(data)) {
      throw new KernelFormatError(`the bzImage's ${format} payload does not contain an ELF vmlinux: the image is damaged or not an x86-64 Linux kernel`);
    }
    const { entry64, loadEnd } = loadElf(data, mem);
    return { kind: 'bzImage', entry64, setupHeader: bz.setupHeader, loadEnd, payloadFormat: format };
  }
  const head = Array.from(image.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new KernelFormatError(
    `not a bzImage or ELF vmlinux: ${image.length} bytes starting ${head || '(empty file)'}; pass arch/x86/boot/bzImage or vmlinux from a Linux build`,
  );
}
