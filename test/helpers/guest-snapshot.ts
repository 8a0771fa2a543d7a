/**
 * Boot once, then start from a snapshot: the first test that needs a guest of a given
 * recipe boots it (minutes where the guest kernel is emulated), optionally prepares it,
 * and saves it with HMP `migrate file:`; every later test (and later runs) starts
 * `cuju -incoming file:SNAPSHOT` in about a second. Snapshots are cached under
 * guest/out/snapshots/, keyed by the guest images, the recipe and the cuju build, and
 * rebuilt when a restore refuses them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GuestVm, INITRD, KERNEL, ROOT, type GuestOptions } from './guest-vm.js';
import { hmp } from './hmp.js';

export interface SnapshotRecipe extends GuestOptions {
  /** Names the cache file (e.g. 'shell-128m'). */
  name: string;
  /** Runs in the freshly booted guest before the snapshot (e.g. start a server). */
  prepare?: (vm: GuestVm) => Promise<void>;
}

const CACHE = join(ROOT, 'guest/out/snapshots');

/** What a snapshot depends on: guest images, recipe, and the VMM's compiled code. */
function cacheKey(recipe: SnapshotRecipe): string {
  const h = createHash('sha256');
  for (const f of [recipe.kernel ?? KERNEL, recipe.initrd ?? INITRD]) {
    const st = statSync(f);
    h.update(`${f}:${st.size}:${st.mtimeMs}\n`);
  }
  const { prepare, ...rest } = recipe;
  h.update(JSON.stringify(rest));
  h.update(prepare?.toString() ?? '');
  // Device and state formats live in the VMM: a rebuilt VMM must not trust older snapshots.
  for (const f of ['dist/src/vm/machine.js', 'dist/src/snapshot/format.js', 'dist/src/devices/virtio/state.js', 'dist/src/devices/serial/state.js']) {
    const p = join(ROOT, f);
    if (existsSync(p)) h.update(readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}

export function snapshotPath(recipe: SnapshotRecipe): string {
  return join(CACHE, `${recipe.name}-${cacheKey(recipe)}.snap`);
}

/** The recipe's snapshot file, booting and saving it first if it is not cached. */
export async function ensureSnapshot(recipe: SnapshotRecipe): Promise<string> {
  const path = snapshotPath(recipe);
  if (existsSync(path)) return path;
  mkdirSync(CACHE, { recursive: true });
  const vm = new GuestVm(recipe);
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
  }
}

/**
 * A running guest of `recipe`, started from its snapshot, with its shell answering.
 * `extraArgs` add host-side flags that do not change the machine (e.g. another tap).
 */
export async function guestFromSnapshot(recipe: SnapshotRecipe, extraArgs: string[] = []): Promise<GuestVm> {
  for (let attempt = 0; ; attempt++) {
    const path = await ensureSnapshot(recipe);
    const vm = new GuestVm({ ...recipe, extraArgs: [...(recipe.extraArgs ?? []), ...extraArgs, '-incoming', `file:${path}`] });
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
