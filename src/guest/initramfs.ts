/**
 * The guest initramfs: an uncompressed newc cpio (the guest kernel only copies it;
 * inflating a compressed one in emulated kernel code takes minutes) holding static
 * busybox with links for the applets run by path (busybox.ts, LINKED_APPLETS), the
 * mount points /init needs, /dev/console (the kernel opens it for /init's stdio before
 * devtmpfs is mounted), the guest workloads
 * (guest/workloads/*.c compiled, as /bin/<name>) and guest/rootfs/.
 */
import { lstat, readdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputHash, isUpToDate, writeStamp } from './cache.js';
import { type CpioEntry, normalizeArchivePath, sortForArchive, writeCpio } from './cpio.js';
import { GuestBuildError } from './errors.js';
import { BUSYBOX_PATH, busyboxApplets, checkRequiredApplets, linkedApplets, readStaticBusybox } from './busybox.js';
import { builderDir, type GuestPaths } from './paths.js';
import { progress } from './progress.js';
import { buildWorkloads, type Workload, workloadGuestPath } from './workloads.js';

export const INITRAMFS_NAME = 'initramfs.cpio';

/** Mount points /init uses (mnt/disk: the first virtio disk) and the usual top-level tree. */
const BASE_DIRS = ['dev', 'proc', 'sys', 'tmp', 'etc', 'root', 'bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'mnt', 'mnt/disk'];

/** Entries from the host directory `root` (guest/rootfs), keeping modes and symlinks. */
export async function collectTree(root: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const hostPath = join(dir, name);
      const path = rel ? `${rel}/${name}` : name;
      const st = await lstat(hostPath);
      if (st.isDirectory()) {
        entries.push({ kind: 'dir', path, mode: st.mode });
        await walk(hostPath, path);
      } else if (st.isSymbolicLink()) {
        entries.push({ kind: 'symlink', path, target: await readlink(hostPath) });
      } else if (st.isFile()) {
        entries.push({ kind: 'file', path, mode: st.mode, data: await readFile(hostPath) });
      } else {
        throw new GuestBuildError(`${hostPath}: only files, directories and symlinks can go into guest/rootfs`);
      }
    }
  }
  await walk(root, '');
  return entries;
}

/** The parent directories of `path`, outermost first ("usr/bin/awk" -> usr, usr/bin). */
function parentsOf(path: string): string[] {
  const parts = normalizeArchivePath(path).split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

export interface InitramfsInputs {
  readonly busybox: Buffer;
  readonly applets: readonly string[];
  readonly rootfs: readonly CpioEntry[];
  /** Compiled guest workloads, installed as /bin/<name>. */
  readonly workloads?: readonly Workload[];
}

/**
 * All entries of the archive. guest/rootfs wins over generated entries of the same
 * path (an applet link may be replaced by a real file); missing parents are added.
 */
export function initramfsEntries(inputs: InitramfsInputs): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  const put = (e: CpioEntry): void => {
    byPath.set(normalizeArchivePath(e.path), e);
  };
  for (const dir of BASE_DIRS) put({ kind: 'dir', path: dir, mode: 0o755 });
  put({ kind: 'dir', path: 'tmp', mode: 0o1777 });
  put({ kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 });
  put({ kind: 'chardev', path: 'dev/null', mode: 0o666, major: 1, minor: 3 });
  put({ kind: 'file', path: BUSYBOX_PATH, mode: 0o755, data: inputs.busybox });
  for (const applet of inputs.applets) put({ kind: 'symlink', path: applet, target: BUSYBOX_PATH });
  for (const w of inputs.workloads ?? []) put({ kind: 'file', path: workloadGuestPath(w.name), mode: 0o755, data: w.binary });
  for (const entry of inputs.rootfs) put(entry);
  for (const path of [...byPath.keys()]) {
    for (const parent of parentsOf(path)) {
      const existing = byPath.get(parent);
      if (!existing) put({ kind: 'dir', path: parent, mode: 0o755 });
      else if (existing.kind !== 'dir') throw new GuestBuildError(`initramfs: ${parent} is both a ${existing.kind} and a directory`);
    }
  }
  return sortForArchive([...byPath.values()]);
}

function hashEntries(entries: readonly CpioEntry[]): InputHash {
  const hash = new InputHash();
  for (const e of entries) {
    const meta = e.kind === 'symlink' ? e.target : e.kind === 'chardev' ? `${e.mode} ${e.major}:${e.minor}` : `${e.mode & 0o7777}`;
    hash.add(`${e.kind} ${e.path}`, meta);
    if (e.kind === 'file') hash.add('data', Buffer.from(e.data));
  }
  return hash;
}

/** Builds guest/out/initramfs.cpio unless the stamp shows the same inputs. Returns its path. */
export async function buildInitramfs(paths: GuestPaths): Promise<string> {
  const output = join(paths.outDir, INITRAMFS_NAME);
  const rootfs = await collectTree(paths.rootfsDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new GuestBuildError(`${paths.rootfsDir} is missing: it must hold the guest's /init`);
    throw err;
  });
  if (!rootfs.some((e) => e.kind === 'file' && e.path === 'init' && (e.mode & 0o111) !== 0)) {
    throw new GuestBuildError(`${join(paths.rootfsDir, 'init')} must exist and be executable (chmod +x it)`);
  }
  const applets = await busyboxApplets();
  checkRequiredApplets(applets);
  const workloads = await buildWorkloads(paths.workloadsDir, join(paths.cacheDir, 'workloads'));
  const entries = initramfsEntries({ busybox: await readStaticBusybox(), applets: linkedApplets(applets), rootfs, workloads });
  // The archive is a pure function of the entries and of this writer's code. The
  // workloads' sources are hashed too: their binaries come from a cache, and an edited
  // source must always give a new archive, even one that compiles to the same bytes.
  const hash = hashEntries(entries);
  for (const w of workloads) hash.add(`workload source ${w.name}`, w.source);
  await hash.addFile('cpio.js', join(builderDir, 'cpio.js'));
  await hash.addFile('initramfs.js', join(builderDir, 'initramfs.js'));
  await hash.addFile('workloads.js', join(builderDir, 'workloads.js'));
  const digest = hash.digest();
  if (await isUpToDate(paths.outDir, INITRAMFS_NAME, digest, [output])) {
    progress(`initramfs: up to date (${output})`);
    return output;
  }
  const archive = writeCpio(entries);
  await writeFile(`${output}.tmp`, archive);
  await rename(`${output}.tmp`, output);
  await writeStamp(paths.outDir, INITRAMFS_NAME, digest);
  progress(`initramfs: wrote ${output} (${entries.length} entries, ${(archive.length / 1024).toFixed(0)} KiB)`);
  return output;
}
