import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExt4Image } from '../../src/block/make-ext4.js';
import { MakeExt4Error } from '../../src/block/errors.js';

test('makeExt4Image builds an ext4 file system holding the folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ext4-'));
  try {
    const src = join(dir, 'root');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc', 'hello.txt'), 'hello from the host\n');
    const img = join(dir, 'disk.img');
    await makeExt4Image({ sourceDir: src, imagePath: img, sizeBytes: 8 * 1024 * 1024, label: 'cujutest' });
    assert.equal(statSync(img).size, 8 * 1024 * 1024);
    const sb = readFileSync(img).subarray(1024, 2048);
    assert.equal(sb.readUInt16LE(56), 0xef53, 'ext superblock magic');
    const out = execFileSync('debugfs', ['-R', 'cat /etc/hello.txt', img], { env: { ...process.env, PATH: `${process.env.PATH}:/sbin:/usr/sbin` }, stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(out.toString(), 'hello from the host\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('makeExt4Image: clear errors for a missing folder, a bad size, or a missing mkfs.ext4', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ext4-'));
  try {
    await assert.rejects(makeExt4Image({ sourceDir: join(dir, 'none'), imagePath: join(dir, 'x.img'), sizeBytes: 1 << 20 }), /not a folder/);
    await assert.rejects(makeExt4Image({ sourceDir: dir, imagePath: join(dir, 'x.img'), sizeBytes: 1000 }), MakeExt4Error);
    await assert.rejects(makeExt4Image({ sourceDir: dir, imagePath: join(dir, 'x.img'), sizeBytes: 1 << 20, mkfs: 'mkfs.ext4-not-here' }), /install e2fsprogs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
