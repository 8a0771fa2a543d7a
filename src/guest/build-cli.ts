/**
 * `npm run guest`: builds the guest kernel and initramfs into guest/out/, installing
 * missing Debian packages first. Idempotent: outputs whose inputs did not change are
 * kept. Progress goes to stderr; the output paths are printed on stdout.
 */
import { mkdir } from 'node:fs/promises';
import { GuestBuildError } from './errors.js';
import { buildInitramfs } from './initramfs.js';
import { buildKernel } from './kernel.js';
import { ensurePackages } from './packages.js';
import { guestPaths } from './paths.js';
import { progress } from './progress.js';

async function main(): Promise<void> {
  const paths = guestPaths();
  await mkdir(paths.outDir, { recursive: true });
  await mkdir(paths.cacheDir, { recursive: true });
  await ensurePackages();
  const initramfs = await buildInitramfs(paths);
  const kernel = await buildKernel(paths);
  progress('done');
  process.stdout.write(`${kernel.bzImage}\n${kernel.vmlinux}\n${initramfs}\n`);
}

main().catch((err: unknown) => {
  if (err instanceof GuestBuildError) {
    process.stderr.write(`guest build failed: ${err.message}\n`);
  } else {
    process.stderr.write(`guest build failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = 1;
});
