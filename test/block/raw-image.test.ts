import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '../../src/block/raw-image.js';
import { BlockIoError, ImageFormatError, ImageLockedError, ImageOpenError, ImageOptionError } from '../../src/block/errors.js';
import { nativeImageLocker, type ImageLocker } from '../../src/block/image-lock.js';
import { spawn } from 'node:child_process';

function tempImage(content: Uint8Array = new Uint8Array(8192)) {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-raw-'));
  const path = join(dir, 'disk.raw');
  writeFileSync(path, content);
  return { dir, path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real OFD locker (native addon), recording what was asked of it. */
class RecordingLocks implements ImageLocker {
  readonly requests: boolean[] = [];
  private readonly real = nativeImageLocker()!;
  lock(fd: number, exclusive: boolean): boolean {
    this.requests.push(exclusive);
    return this.real.lock(fd, exclusive);
  }
}

test('opening: size, read/write round trip, flush, and I/O past the end is a BlockIoError', async () => {
  const t = tempImage();
  try {
    const img = await RawImage.open({ path: t.path, locker: null });
    assert.equal(img.sizeBytes, 8192);
    assert.equal(img.locked, false);
    await img.write(512, Uint8Array.of(1, 2, 3));
    const buf = new Uint8Array(4);
    await img.read(511, buf);
    assert.deepEqual([...buf], [0, 1, 2, 3]);
    await img.flush();
    await assert.rejects(img.read(8190, new Uint8Array(4)), BlockIoError);
    await img.close();
    const ro = await RawImage.open({ path: t.path, locker: null, readonly: true });
    await assert.rejects(ro.write(0, Uint8Array.of(1)), /read-only/);
    await ro.close();
  } finally {
    t.cleanup();
  }
});

test('user errors: missing file, qcow2 (declared or detected), unknown cache mode, directory', async () => {
  const t = tempImage(Uint8Array.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, ...new Array(504).fill(0)]));
  try {
    await assert.rejects(RawImage.open({ path: join(t.dir, 'nope.raw'), locker: null }), (e: Error) => e instanceof ImageOpenError && /does not exist/.test(e.message));
    await assert.rejects(RawImage.open({ path: t.path, locker: null, format: 'qcow2' }), (e: Error) => e instanceof ImageFormatError && /raw images only/.test(e.message));
    await assert.rejects(RawImage.open({ path: t.path, locker: null }), (e: Error) => e instanceof ImageFormatError && /is qcow2/.test(e.message));
    const img = await RawImage.open({ path: t.path, locker: null, format: 'raw' }); // explicit raw: the user knows
    await img.close();
    await assert.rejects(RawImage.open({ path: t.path, locker: null, cache: 'unsafe' }), ImageOptionError);
    await assert.rejects(RawImage.open({ path: t.dir, locker: null }), ImageOpenError);
  } finally {
    t.cleanup();
  }
});

test('permission denied names the fix (readonly=on)', async (ctx) => {
  if (process.getuid?.() === 0) return ctx.skip('root ignores file permissions');
  const t = tempImage();
  try {
    chmodSync(t.path, 0o444);
    await assert.rejects(RawImage.open({ path: t.path, locker: null }), /readonly=on/);
  } finally {
    t.cleanup();
  }
});

test('locking: a writer takes an exclusive lock; a second writer or a reader is refused', async () => {
  const t = tempImage();
  const locks = new RecordingLocks();
  try {
    const a = await RawImage.open({ path: t.path, locker: locks });
    assert.equal(a.locked, true);
    assert.deepEqual(locks.requests, [true]);
    await assert.rejects(RawImage.open({ path: t.path, locker: locks }), (e: Error) => e instanceof ImageLockedError && /in use by another process/.test(e.message));
    await assert.rejects(RawImage.open({ path: t.path, locker: locks, readonly: true }), /being written by another process/);
    await a.close();
  } finally {
    t.cleanup();
  }
});

test('locking: readers and share-rw=on writers take shared locks and coexist', async () => {
  const t = tempImage();
  const locks = new RecordingLocks();
  try {
    const r = await RawImage.open({ path: t.path, locker: locks, readonly: true });
    const w = await RawImage.open({ path: t.path, locker: locks, shareRw: true });
    assert.deepEqual(locks.requests, [false, false]);
    await assert.rejects(RawImage.open({ path: t.path, locker: locks }), ImageLockedError);
    await r.close();
    await w.close();
  } finally {
    t.cleanup();
  }
});

test('locking works across processes: an image held by another process is refused', async () => {
  const t = tempImage();
  // Another process takes the exclusive lock the way cuju does, then waits.
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    const { RawImage } = await import(${JSON.stringify(new URL('../../src/block/raw-image.js', import.meta.url).href)});
    const { nativeImageLocker } = await import(${JSON.stringify(new URL('../../src/block/image-lock.js', import.meta.url).href)});
    await RawImage.open({ path: ${JSON.stringify(t.path)}, locker: nativeImageLocker() });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => { if (d.toString().includes('locked')) resolve(); }));
    await assert.rejects(RawImage.open({ path: t.path, locker: nativeImageLocker()! }), (e: Error) => e instanceof ImageLockedError && /in use by another process/.test(e.message));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    const img = await RawImage.open({ path: t.path, locker: nativeImageLocker()! });
    assert.equal(img.locked, true, 'the lock went away with the process that held it');
    await img.close();
  } finally {
    holder.kill('SIGKILL');
    t.cleanup();
  }
});
