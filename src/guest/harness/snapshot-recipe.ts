/**
 * Boot once, then start from a snapshot: the first test that needs a guest of a given
 * recipe boots it (minutes where the guest kernel is emulated), optionally prepares it,
 * and saves it with HMP `migrate file:`; every later test (and later runs) starts
 * `cuju -incoming file:SNAPSHOT` in about a second. Snapshots are cached under
 * guest/out/snapshots/, keyed by the guest images, the recipe and the cuju build, and
 * rebuilt when a restore refuses them.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { snapshotCacheKey } from '../../snapshot/cache-key.js';
import { join } from 'node:path';
import { GuestVm, INITRD, KERNEL, ROOT, type GuestOptions } from './guest-vm.js';
import { hmp } from '../../monitor/client/hmp-command.js';
import { TestNetwork } from '../../net/testnet/test-network.js';

export const SNAPSHOT_NIC_MAC = '52:54:00:12:34:56';

function nicArgs(tap: string): string[] {
  return ['-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, '-device', `virtio-net,netdev=n0,mac=${SNAPSHOT_NIC_MAC}`];
}

export interface SnapshotRecipe extends GuestOptions {
  /** Names the cache file (e.g. 'shell-128m'). */
  name: string;
  /**
   * A virtio-net NIC in slot 0 (MAC 52:54:00:12:34:56, no address: tests run
   * `ifconfig eth0 ...` after the restore, since their subnet changes). Its tap is a
   * host-side detail: guestFromSnapshot() takes the tap to use.
   */
  nic?: boolean;
  /** Runs in the freshly booted guest before the snapshot (e.g. start a server). */
  prepare?: (vm: GuestVm) => Promise<void>;
}

const CACHE = join(ROOT, 'guest/out/snapshots');

function cacheKey(recipe: SnapshotRecipe): string {
  const { prepare, ...rest } = recipe;
  return snapshotCacheKey([recipe.kernel ?? KERNEL, recipe.initrd ?? INITRD], JSON.stringify(rest) + (prepare?.toString() ?? ''));
}

export function snapshotPath(recipe: SnapshotRecipe): string {
  return join(CACHE, `${recipe.name}-${cacheKey(recipe)}.snap`);
}

/** The recipe's snapshot file, booting and saving it first if it is not cached. */
export async function ensureSnapshot(recipe: SnapshotRecipe): Promise<string> {
  const path = snapshotPath(recipe);
  if (existsSync(path)) return path;
  mkdirSync(CACHE, { recursive: true });
  // The NIC needs some tap while the snapshot's guest boots: a throwaway network's.
  const network = recipe.nic ? TestNetwork.create({ clients: 0 }) : undefined;
  const vm = new GuestVm({ ...recipe, extraArgs: [...(recipe.extraArgs ?? []), ...(network ? nicArgs(network.tap.name) : [])] });
  try {
    await vm.waitForShell();
    await recipe.prepare?.(vm);
    const partial = `${path}.${process.pid}.partial`;
    const out = await hmp(vm.hmpPath, `migrate file:${partial}`, 120_000);
    if (!/migration completed/.test(out)) throw new Error(`saving the snapshot failed: ${out}`);
    renameSync(partial, path);
    return path;
  } finally {
    await vm.kill();
    network?.teardown();
  }
}

/** The flags that start a VM of `recipe` (with `tap` for its NIC), without -incoming. */
export function recipeArgs(recipe: SnapshotRecipe, tap?: string): GuestOptions {
  if (recipe.nic && !tap) throw new Error(`recipe ${recipe.name} has a NIC: give the tap to use`);
  return { ...recipe, extraArgs: [...(recipe.extraArgs ?? []), ...(recipe.nic ? nicArgs(tap!) : [])] };
}

/**
 * A running guest of `recipe`, started from its snapshot, with its shell answering.
 * `tap`: the tap for the recipe's NIC.
 */
export async function guestFromSnapshot(recipe: SnapshotRecipe, tap?: string): Promise<GuestVm> {
  for (let attempt = 0; ; attempt++) {
    const path = await ensureSnapshot(recipe);
    const opts = recipeArgs(recipe, tap);
    const vm = new GuestVm({ ...opts, extraArgs: [...(opts.extraArgs ?? []), '-incoming', `file:${path}`] });
    try {
      await vm.run('true', 60_000);
      return vm;
    } catch (e) {
      await vm.kill();
      if (attempt > 0 || !/snapshot/.test(vm.stderr)) throw new Error(`${(e as Error).message}\ncuju stderr: ${vm.stderr}`);
      rmSync(path, { force: true }); // refused (stale format): boot a fresh one
    }
  }
}

/** The plain guest most tests need: 128 MiB, one vCPU, a shell on the serial console. */
export const SHELL_RECIPE: SnapshotRecipe = { name: 'shell-128m', memoryMiB: 128 };
/** The same with a virtio-net NIC (migration and network tests). */
export const NIC_RECIPE: SnapshotRecipe = { name: 'nic-128m', memoryMiB: 128, nic: true };
