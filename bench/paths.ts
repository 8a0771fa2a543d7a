/** Paths of the built guest images and the cuju entry point, for benchmarks. */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const KERNEL = join(ROOT, 'guest/out/bzImage');
export const INITRD = join(ROOT, 'guest/out/initramfs.cpio');
export const CUJU = join(ROOT, 'bin/cuju.js');
