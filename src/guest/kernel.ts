/**
 * The guest kernel: Debian's linux-source-6.1 + guest/kernel/patches, configured as
 * tinyconfig + guest/kernel/cuju.config, built into guest/out/bzImage (gzip payload,
 * which the VMM inflates on the host) and guest/out/vmlinux. Rebuilt only when the
 * hash over the fragment, the patches, the source package version and this code
 * changes.
 */
import { availableParallelism } from 'node:os';
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputHash, isUpToDate, writeStamp } from './cache.js';
import { verifyConfig } from './config-fragment.js';
import { GuestBuildError } from './errors.js';
import { prepareTree, listPatches } from './kernel-tree.js';
import { packageVersion } from './packages.js';
import { builderDir, type GuestPaths } from './paths.js';
import { progress } from './progress.js';
import { run } from './run.js';

export const KERNEL_STAMP = 'kernel';
const SOURCE_PACKAGE = 'linux-source-6.1';
/** This builder's kernel-building code: a change to it must rebuild the kernel. */
const BUILDER_FILES = ['kernel.js', 'kernel-tree.js', 'config-fragment.js'];

export interface KernelOutputs {
  readonly bzImage: string;
  readonly vmlinux: string;
}

const makeEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ARCH: 'x86_64' });

/** tinyconfig, merge the fragment, olddefconfig, then check every fragment line survived. */
export async function configureKernel(tree: string, fragmentPath: string, logFile: string): Promise<void> {
  progress('kernel: configuring (tinyconfig + cuju.config)');
  const env = makeEnv();
  await run('make', ['tinyconfig'], { cwd: tree, env, logFile });
  await run('scripts/kconfig/merge_config.sh', ['-m', '.config', fragmentPath], { cwd: tree, env, logFile });
  await run('make', ['olddefconfig'], { cwd: tree, env, logFile });
  const [fragment, finalConfig] = await Promise.all([readFile(fragmentPath, 'utf8'), readFile(join(tree, '.config'), 'utf8')]);
  verifyConfig(fragment, finalConfig, fragmentPath);
}

/** The last kbuild progress line ("  CC      mm/slub.o") in the tail of the log. */
export async function lastBuildStep(logFile: string): Promise<string | undefined> {
  const handle = await open(logFile, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 8192);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const steps = buffer
      .toString('utf8')
      .split('\n')
      .filter((l) => /^\s+[A-Z][A-Z0-9_]*\s+\S/.test(l));
    return steps.at(-1)?.trim().replace(/\s+/, ' ');
  } finally {
    await handle.close();
  }
}

async function makeBzImage(tree: string, logFile: string): Promise<void> {
  const jobs = availableParallelism();
  progress(`kernel: make -j${jobs} bzImage (several minutes; log: ${logFile})`);
  const ticker = setInterval(() => {
    void lastBuildStep(logFile).then((step) => progress(`kernel: building... ${step ?? ''}`));
  }, 60_000);
  try {
    await run('make', [`-j${jobs}`, 'bzImage'], { cwd: tree, env: makeEnv(), logFile });
  } finally {
    clearInterval(ticker);
  }
}

async function copyAtomically(from: string, to: string): Promise<void> {
  await copyFile(from, `${to}.tmp`);
  await rename(`${to}.tmp`, to);
}

export async function kernelInputHash(paths: GuestPaths): Promise<string> {
  const hash = new InputHash();
  await hash.addFile('fragment', paths.configFragment).catch(() => {
    throw new GuestBuildError(`${paths.configFragment} is missing: the kernel config fragment must be in the repository`);
  });
  hash.add('source-version', await packageVersion(SOURCE_PACKAGE));
  for (const patch of await listPatches(paths.patchesDir)) hash.add(`patch ${patch.name}`, patch.content);
  for (const file of BUILDER_FILES) await hash.addFile(file, join(builderDir, file));
  return hash.digest();
}

export async function buildKernel(paths: GuestPaths): Promise<KernelOutputs> {
  const outputs = { bzImage: join(paths.outDir, 'bzImage'), vmlinux: join(paths.outDir, 'vmlinux') };
  const hash = await kernelInputHash(paths);
  if (await isUpToDate(paths.outDir, KERNEL_STAMP, hash, [outputs.bzImage, outputs.vmlinux])) {
    progress(`kernel: up to date (${outputs.bzImage})`);
    return outputs;
  }
  const sourceVersion = await packageVersion(SOURCE_PACKAGE);
  const patches = await listPatches(paths.patchesDir);
  const tree = await prepareTree({ cacheDir: paths.cacheDir, patchesDir: paths.patchesDir, sourceVersion, patches });
  const logFile = join(paths.cacheDir, 'kernel-build.log');
  await rm(logFile, { force: true });
  await configureKernel(tree, paths.configFragment, logFile);
  await makeBzImage(tree, logFile);
  await mkdir(paths.outDir, { recursive: true });
  await copyAtomically(join(tree, 'arch/x86/boot/bzImage'), outputs.bzImage);
  await copyAtomically(join(tree, 'vmlinux'), outputs.vmlinux);
  await writeStamp(paths.outDir, KERNEL_STAMP, hash);
  progress(`kernel: wrote ${outputs.bzImage} and ${outputs.vmlinux}`);
  return outputs;
}
