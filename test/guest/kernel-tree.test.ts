import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Patch, prepareTree } from '../../src/guest/kernel-tree.js';
import { GuestBuildError } from '../../src/guest/errors.js';

/** A stand-in for the linux-source tarball: linux-source-6.1/{a.txt,b.txt}. */
function makeWorld(): { dir: string; tarball: string; cacheDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-tree-'));
  const src = join(dir, 'src', 'linux-source-6.1');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'one\ntwo\nthree\n');
  writeFileSync(join(src, 'b.txt'), 'alpha\nbeta\n');
  const tarball = join(dir, 'linux.tar');
  execFileSync('tar', ['-cf', tarball, '-C', join(dir, 'src'), 'linux-source-6.1']);
  return { dir, tarball, cacheDir: join(dir, 'cache') };
}

function patch(name: string, file: string, from: string, to: string, header = 'explains itself\n'): Patch {
  const text = `${header}--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-${from}\n+${to}\n`;
  const content = Buffer.from(text);
  return { name, content, sha256: createHash('sha256').update(content).digest('hex') };
}

const newFile = (name: string, file: string, line: string): Patch => {
  const content = Buffer.from(`--- /dev/null\n+++ b/${file}\n@@ -0,0 +1 @@\n+${line}\n`);
  return { name, content, sha256: createHash('sha256').update(content).digest('hex') };
};

test('applies patches, then reverts only what changed, keeping the tree (and its build outputs)', async () => {
  const w = makeWorld();
  try {
    const spec = { cacheDir: w.cacheDir, patchesDir: 'patches', sourceVersion: '1', tarball: w.tarball };
    const p1 = patch('0001-a.patch', 'a.txt', 'one', 'ONE');
    const p2 = patch('0002-b.patch', 'b.txt', 'alpha', 'ALPHA');
    const p3 = newFile('0003-new.patch', 'new.c', 'int x;');
    const tree = await prepareTree({ ...spec, patches: [p1, p2, p3] });
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'ONE\ntwo\nthree\n');
    assert.equal(readFileSync(join(tree, 'b.txt'), 'utf8'), 'ALPHA\nbeta\n');
    assert.equal(readFileSync(join(tree, 'new.c'), 'utf8'), 'int x;\n');

    writeFileSync(join(tree, 'built.o'), 'object file'); // stands for kbuild outputs
    const p2b = patch('0002-b.patch', 'b.txt', 'alpha', 'Alpha!');
    await prepareTree({ ...spec, patches: [p1, p2b] });
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'ONE\ntwo\nthree\n');
    assert.equal(readFileSync(join(tree, 'b.txt'), 'utf8'), 'Alpha!\nbeta\n');
    assert.ok(!existsSync(join(tree, 'new.c')), 'the reverted new-file patch removes its file');
    assert.ok(existsSync(join(tree, 'built.o')), 'no re-extraction when reverting works');

    await prepareTree({ ...spec, patches: [] });
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'one\ntwo\nthree\n');
    assert.equal(readFileSync(join(tree, 'b.txt'), 'utf8'), 'alpha\nbeta\n');
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test('re-extracts when the source version changes or a revert is impossible', async () => {
  const w = makeWorld();
  try {
    const spec = { cacheDir: w.cacheDir, patchesDir: 'patches', tarball: w.tarball };
    const p1 = patch('0001-a.patch', 'a.txt', 'one', 'ONE');
    const tree = await prepareTree({ ...spec, sourceVersion: '1', patches: [p1] });
    writeFileSync(join(tree, 'built.o'), 'object file');
    await prepareTree({ ...spec, sourceVersion: '2', patches: [p1] });
    assert.ok(!existsSync(join(tree, 'built.o')), 'new source version: fresh tree');
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'ONE\ntwo\nthree\n');

    writeFileSync(join(tree, 'a.txt'), 'edited by hand\n'); // the applied patch no longer reverts
    writeFileSync(join(tree, 'built.o'), 'object file');
    await prepareTree({ ...spec, sourceVersion: '2', patches: [] });
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'one\ntwo\nthree\n');
    assert.ok(!existsSync(join(tree, 'built.o')));
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test('a patch that does not apply fails with its name and leaves the tree usable', async () => {
  const w = makeWorld();
  try {
    const spec = { cacheDir: w.cacheDir, patchesDir: 'guest/kernel/patches', sourceVersion: '1', tarball: w.tarball };
    const bad = patch('0001-bad.patch', 'a.txt', 'no such line', 'x');
    await assert.rejects(prepareTree({ ...spec, patches: [bad] }), (err: unknown) => err instanceof GuestBuildError && /0001-bad\.patch does not apply/.test(err.message));
    const tree = await prepareTree({ ...spec, patches: [patch('0001-a.patch', 'a.txt', 'one', 'ONE')] });
    assert.equal(readFileSync(join(tree, 'a.txt'), 'utf8'), 'ONE\ntwo\nthree\n');
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});
