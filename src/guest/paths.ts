/**
 * Where the guest builder reads its inputs and writes its outputs. Everything is
 * relative to the repository root, found from this file's location (dist/src/guest/
 * after compilation), so `npm run guest` works from any working directory.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GuestPaths {
  readonly repoRoot: string;
  /** guest/kernel/cuju.config: the Kconfig fragment merged over tinyconfig. */
  readonly configFragment: string;
  /** guest/kernel/patches/: *.patch applied in name order with `patch -p1`. */
  readonly patchesDir: string;
  /** guest/rootfs/: copied into the initramfs as-is (holds /init). */
  readonly rootfsDir: string;
  /** guest/workloads/: C programs compiled into the initramfs as /bin/<name> (workloads.ts). */
  readonly workloadsDir: string;
  /** guest/cache/: extracted kernel tree and build logs (git-ignored). */
  readonly cacheDir: string;
  /** guest/out/: bzImage, vmlinux, initramfs.cpio and their hash stamps (git-ignored). */
  readonly outDir: string;
}

/** The directory holding this module at run time (dist/src/guest). */
export const builderDir = dirname(fileURLToPath(import.meta.url));

export function guestPaths(repoRoot: string = resolve(builderDir, '..', '..', '..')): GuestPaths {
  const guest = join(repoRoot, 'guest');
  return {
    repoRoot,
    configFragment: join(guest, 'kernel', 'cuju.config'),
    patchesDir: join(guest, 'kernel', 'patches'),
    rootfsDir: join(guest, 'rootfs'),
    workloadsDir: join(guest, 'workloads'),
    cacheDir: join(guest, 'cache'),
    outDir: join(guest, 'out'),
  };
}
