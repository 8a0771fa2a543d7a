/**
 * The guest of the fault-tolerance failure tests: 128 MiB, one vCPU, a virtio-blk disk
 * (drive0, first) and a virtio-net NIC, with the cuju-kv service (guest/workloads/cuju-kv.c)
 * already listening on port 7000. Booted once and cached as a snapshot
 * (guest-snapshot.ts); every run restores it in about a second with a fresh disk image.
 *
 * The snapshot is taken with the disk unmounted (the guest's /init mounts it at boot;
 * prepare unmounts it, which also drops the guest's cached blocks of it), so a run
 * may give the restored guest any ext4 image of the same size: the service's log file
 * lives on it and is created by the first write. A run mounts it after the restore.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeExt4Image } from '../../block/make-ext4.js';
import { ROOT, type GuestOptions, type GuestVm } from './guest-vm.js';
import { recipeArgs, type SnapshotRecipe } from './snapshot-recipe.js';

export const KV_PORT = 7000;
export const KV_LOG = '/mnt/disk/kv.log';
/** Pages the service dirties per request (its buffer, faulted in before the snapshot). */
export const KV_DIRTY_KIB = 512;
export const KV_DISK_BYTES = 16 * 1024 * 1024;

/** How primary and backup see the disk: each its own copy (replicated in the epochs) or one shared image (share-rw=on). */
export type DiskMode = 'replicated' | 'shared';

/** The image the snapshot's guest booted with (any fresh ext4 of KV_DISK_BYTES serves later runs). */
const BOOT_DISK = join(ROOT, 'guest/out/snapshots/kv-boot-disk.img');

export function diskArgs(image: string, mode: DiskMode): string[] {
  return [
    '-drive', `if=none,id=drive0,cache=none,format=raw,file=${image}`,
    '-device', `virtio-blk,drive=drive0${mode === 'shared' ? ',share-rw=on' : ''}`,
  ];
}

const ALLOCATE_TIMEOUT_MS = 5 * 60_000;

export const KV_RECIPE: SnapshotRecipe = {
  // The name carries what the snapshot holds: the service and its buffer size.
  name: `kv-128m-disk16m-dirty${KV_DIRTY_KIB}k`,
  memoryMiB: 128,
  nic: true,
  extraArgs: diskArgs(BOOT_DISK, 'replicated'),
  prepare: async (vm: GuestVm) => {
    const un = await vm.run('umount /mnt/disk && echo unmounted');
    if (!/unmounted/.test(un.out)) throw new Error(`cannot unmount the boot disk in the guest: ${un.out}`);
    const from = vm.output.length;
    await vm.run(`cuju-kv ${KV_PORT} ${KV_LOG} ${KV_DIRTY_KIB} & kv=$!`);
    await vm.waitFor(/cuju-kv: listening/, ALLOCATE_TIMEOUT_MS, from);
  },
};

/** Creates the boot disk KV_RECIPE names, if missing (before ensureSnapshot boots it). */
export async function ensureBootDisk(): Promise<void> {
  if (existsSync(BOOT_DISK)) return;
  mkdirSync(join(BOOT_DISK, '..'), { recursive: true });
  await freshDisk(BOOT_DISK);
}

/** An empty ext4 image of KV_DISK_BYTES at `path` (overwritten). */
export async function freshDisk(path: string): Promise<void> {
  const empty = mkdtempSync(join(path, '..', '.kv-empty-'));
  try {
    await makeExt4Image({ sourceDir: empty, imagePath: path, sizeBytes: KV_DISK_BYTES, label: 'cuju-kv' });
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

/** The disk images of one run: one shared image, or the primary's and an identical copy for the backup. */
export interface RunDisks {
  mode: DiskMode;
  primary: string;
  backup: string;
}

export async function runDisks(dir: string, mode: DiskMode): Promise<RunDisks> {
  const primary = join(dir, 'primary.img');
  await freshDisk(primary);
  if (mode === 'shared') return { mode, primary, backup: primary };
  const backup = join(dir, 'backup.img');
  copyFileSync(primary, backup);
  return { mode, primary, backup };
}

/** The flags of a KV VM with `image` on drive0 and `tap` behind its NIC (add -incoming yourself). */
export function kvArgs(image: string, mode: DiskMode, tap: string): GuestOptions {
  return recipeArgs({ ...KV_RECIPE, extraArgs: diskArgs(image, mode) }, tap);
}

/**
 * Run in the restored guest: its address, and the run's disk mounted where the service
 * logs, then synced. No lazy inode-table init (noinit_itable) and no atime updates: the
 * guest writes to the disk only when the service does, so a copy taken now is what the
 * guest believes its disk holds.
 */
export function kvGuestSetup(address: string): string {
  return `ifconfig eth0 ${address} netmask 255.255.255.0 up && mount -t ext4 -o noatime,noinit_itable /dev/vda /mnt/disk && sync && echo kv-ready`;
}
