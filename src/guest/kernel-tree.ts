/**
 * The extracted kernel source tree in guest/cache/, with our patches applied.
 *
 * The tree and its object files are kept between builds so that a change to the
 * config fragment or to one patch rebuilds only what changed: patches that are no
 * longer wanted are reverted (`patch -R`) newest first, then new ones applied. The
 * tree is extracted afresh when the linux-source package version changes, when a
 * revert fails, or when an earlier run died half-way through patching.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GuestBuildError } from './errors.js';
import { progress } from './progress.js';
import { run } from './run.js';

export const SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz';
/** The tarball's top-level directory. */
const TREE_NAME = 'linux-source-6.1';
/** Inside the tree: what it was extracted from and which patches it carries. */
const STATE_FILE = '.cuju-tree.json';
/** Inside the tree: copies of the applied patches, needed to revert them later. */
const APPLIED_DIR = '.cuju-applied';

export interface Patch {
  readonly name: string;
  readonly content: Buffer;
  readonly sha256: string;
}

interface TreeState {
  readonly sourceVersion: string;
  readonly applied: readonly { readonly name: string; readonly sha256: string }[];
}

export async function listPatches(dir: string): Promise<Patch[]> {
  const names = existsSync(dir) ? (await readdir(dir)).filter((n) => n.endsWith('.patch')).sort() : [];
  return Promise.all(
    names.map(async (name) => {
      const content = await readFile(join(dir, name));
      return { name, content, sha256: createHash('sha256').update(content).digest('hex') };
    }),
  );
}

async function readState(tree: string): Promise<TreeState | undefined> {
  try {
    return JSON.parse(await readFile(join(tree, STATE_FILE), 'utf8')) as TreeState;
  } catch {
    return undefined;
  }
}

async function writeState(tree: string, state: TreeState): Promise<void> {
  await writeFile(join(tree, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

export interface TreeSpec {
  readonly cacheDir: string;
  /** Only for messages: where the patches came from. */
  readonly patchesDir: string;
  /** The linux-source package version the tarball belongs to. */
  readonly sourceVersion: string;
  readonly patches: readonly Patch[];
  /** Defaults to Debian's SOURCE_TARBALL. */
  readonly tarball?: string;
}

async function extractFresh(cacheDir: string, sourceVersion: string, tarball: string): Promise<string> {
  if (!existsSync(tarball)) {
    throw new GuestBuildError(`${tarball} is missing. Install the linux-source-6.1 package.`);
  }
  const tree = join(cacheDir, TREE_NAME);
  const staging = join(cacheDir, 'extract.tmp');
  progress(`kernel: extracting ${tarball} (linux-source ${sourceVersion})`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await run('tar', ['-xf', tarball, '-C', staging]);
  if (!existsSync(join(staging, TREE_NAME))) {
    throw new GuestBuildError(`${tarball} has no ${TREE_NAME}/ directory; is it the Debian linux-source-6.1 tarball?`);
  }
  await rm(tree, { recursive: true, force: true });
  await rename(join(staging, TREE_NAME), tree);
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(tree, APPLIED_DIR));
  await writeState(tree, { sourceVersion, applied: [] });
  return tree;
}

const PATCH_FLAGS = ['-p1', '--batch', '--forward', '--no-backup-if-mismatch', '-E', '-s'];

async function revertAll(tree: string, toRevert: readonly string[]): Promise<boolean> {
  for (const name of toRevert) {
    const file = join(tree, APPLIED_DIR, name);
    if (!existsSync(file)) return false;
    const dry = await run('patch', ['-R', '--dry-run', ...PATCH_FLAGS, '-i', file], { cwd: tree, okExitCodes: [0, 1, 2] });
    if (dry.exitCode !== 0) return false;
    await run('patch', ['-R', ...PATCH_FLAGS, '-i', file], { cwd: tree });
    await rm(file);
    progress(`kernel: reverted ${name}`);
  }
  return true;
}

async function applyPatch(tree: string, patch: Patch, patchesDir: string): Promise<void> {
  const file = join(tree, APPLIED_DIR, patch.name);
  await writeFile(file, patch.content);
  const dry = await run('patch', ['--dry-run', ...PATCH_FLAGS, '-i', file], { cwd: tree, okExitCodes: [0, 1, 2] });
  if (dry.exitCode !== 0) {
    await rm(file);
    throw new GuestBuildError(
      `${join(patchesDir, patch.name)} does not apply to linux-source-6.1:\n${(dry.stdout + dry.stderr).trim()}\n` +
        'Regenerate it against the extracted tree (diff -u a/... b/...).',
    );
  }
  // Until the caller records the new state, a crash must make the next run re-extract.
  await rm(join(tree, STATE_FILE), { force: true });
  await run('patch', [...PATCH_FLAGS, '-i', file], { cwd: tree });
  progress(`kernel: applied ${patch.name}`);
}

/** Returns the tree directory, extracted from `sourceVersion` with exactly `patches` applied in order. */
export async function prepareTree(spec: TreeSpec): Promise<string> {
  const { cacheDir, patchesDir, sourceVersion, patches } = spec;
  const tarball = spec.tarball ?? SOURCE_TARBALL;
  await mkdir(cacheDir, { recursive: true });
  let tree = join(cacheDir, TREE_NAME);
  let state = await readState(tree);
  if (!state || state.sourceVersion !== sourceVersion) {
    tree = await extractFresh(cacheDir, sourceVersion, tarball);
    state = { sourceVersion, applied: [] };
  }

  // Keep the longest prefix of applied patches that is still wanted unchanged.
  let keep = 0;
  while (
    keep < state.applied.length &&
    keep < patches.length &&
    state.applied[keep].name === patches[keep].name &&
    state.applied[keep].sha256 === patches[keep].sha256
  ) {
    keep++;
  }
  const stale = state.applied.slice(keep).map((p) => p.name).reverse();
  if (stale.length > 0) {
    // Until the revert completes the tree matches no state: make a crash here re-extract.
    await rm(join(tree, STATE_FILE), { force: true });
    if (!(await revertAll(tree, stale))) {
      progress('kernel: cannot revert the old patches cleanly; extracting afresh');
      tree = await extractFresh(cacheDir, sourceVersion, tarball);
      keep = 0;
    }
  }

  const applied = patches.slice(0, keep).map((p) => ({ name: p.name, sha256: p.sha256 }));
  await writeState(tree, { sourceVersion, applied });
  for (const patch of patches.slice(keep)) {
    await applyPatch(tree, patch, patchesDir);
    applied.push({ name: patch.name, sha256: patch.sha256 });
    await writeState(tree, { sourceVersion, applied });
  }
  return tree;
}
