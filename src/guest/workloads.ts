/**
 * Guest workloads: the C programs in guest/workloads/*.c (e.g. cuju-dirty, which
 * dirties guest memory at a set rate for migration and replication tests), compiled
 * on the host into static executables and installed in the initramfs as /bin/<name>.
 *
 * They are built without libc (-nostdlib, raw syscalls): the guest kernel copies the
 * initramfs in emulated code on kvm_pvm hosts (~45 s for busybox's 2 MiB), so a
 * static glibc binary (~800 KiB) would add ~15 s to every boot, against ~10 KiB here.
 * Compiled binaries are cached in guest/cache/workloads/, keyed by source, flags and
 * compiler version.
 */
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputHash, isUpToDate, writeStamp } from './cache.js';
import { GuestBuildError } from './errors.js';
import { isStaticElf } from './busybox.js';
import { progress } from './progress.js';
import { run } from './run.js';

export const COMPILER = 'gcc';

/** -nostdlib/-ffreestanding: no libc; no loop-to-memset rewriting (there is no memset to call). */
export const WORKLOAD_CFLAGS: readonly string[] = [
  '-static', '-O2', '-no-pie', '-fno-pie',
  '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-tree-loop-distribute-patterns',
  '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-s',
  '-Wall', '-Wextra', '-Werror',
];

export interface WorkloadSource {
  /** The program's name: the source file's name without .c (installed as /bin/<name>). */
  readonly name: string;
  readonly path: string;
  readonly source: Buffer;
}

export interface Workload extends WorkloadSource {
  /** The static executable. */
  readonly binary: Buffer;
}

/** The guest path a workload is installed at, relative to / ("bin/cuju-dirty"). */
export function workloadGuestPath(name: string): string {
  return `bin/${name}`;
}

/** guest/workloads/*.c in name order; none when the folder does not exist. */
export async function findWorkloadSources(dir: string): Promise<WorkloadSource[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.c')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const sources: WorkloadSource[] = [];
  for (const file of names) {
    const name = basename(file, '.c');
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
      throw new GuestBuildError(`${join(dir, file)}: a workload's file name becomes its command name: use lower-case letters, digits, - and _ only`);
    }
    const path = join(dir, file);
    sources.push({ name, path, source: await readFile(path) });
  }
  return sources;
}

async function compilerVersion(): Promise<string> {
  const result = await run(COMPILER, ['--version']).catch(() => {
    throw new GuestBuildError(`${COMPILER} is needed to compile the guest workloads (guest/workloads/*.c): install Debian's build-essential package`);
  });
  return result.stdout.split('\n')[0] ?? '';
}

/** Compiles one workload into `outDir` unless its cached binary is up to date; returns it. */
export async function compileWorkload(src: WorkloadSource, outDir: string, version?: string): Promise<Workload> {
  await mkdir(outDir, { recursive: true });
  const output = join(outDir, src.name);
  const hash = new InputHash()
    .add('source', src.source)
    .add('flags', WORKLOAD_CFLAGS.join(' '))
    .add('compiler', version ?? (await compilerVersion()))
    .digest();
  if (!(await isUpToDate(outDir, src.name, hash, [output]))) {
    await run(COMPILER, [...WORKLOAD_CFLAGS, '-o', `${output}.tmp`, src.path]).catch((err: Error) => {
      throw new GuestBuildError(`compiling ${src.path} failed:\n${err.message}`);
    });
    await rename(`${output}.tmp`, output);
    await writeStamp(outDir, src.name, hash);
    progress(`workloads: compiled ${src.name}`);
  }
  const binary = await readFile(output);
  if (!isStaticElf(binary)) throw new GuestBuildError(`${output} is not a static 64-bit executable: check WORKLOAD_CFLAGS`);
  return { ...src, binary };
}

/** Every workload in `sourceDir`, compiled (cached in `outDir`). */
export async function buildWorkloads(sourceDir: string, outDir: string): Promise<Workload[]> {
  const sources = await findWorkloadSources(sourceDir);
  if (sources.length === 0) return [];
  const version = await compilerVersion();
  const built: Workload[] = [];
  for (const src of sources) built.push(await compileWorkload(src, outDir, version));
  return built;
}
