import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { HoldingBlockBackend } from '../../../src/ft/output/holding-block-backend.js';
import { applyDiskWrites, type EpochDiskWrites } from '../../../src/ft/output/disk-writes.js';
import { OutputGateError } from '../../../src/ft/output/errors.js';
import { BlockIoError } from '../../../src/block/errors.js';
import { RawImage } from '../../../src/block/raw-image.js';
import { MemoryDisk, pattern, settled, turns } from './fakes.js';

async function readBack(disk: HoldingBlockBackend, offset: number, length: number): Promise<number[]> {
  const buf = new Uint8Array(length);
  await disk.read(offset, buf);
  return [...buf];
}

test('pass mode goes straight to the image', async () => {
  const image = new MemoryDisk(1024);
  const disk = new HoldingBlockBackend(image);
  await disk.write(0, pattern(512, 1));
  assert.deepEqual([...image.bytes.subarray(0, 512)], [...pattern(512, 1)]);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] });
});

test('holding: writes stay off the image, reads see them (partial overlaps merged), release writes them in order then flushes', async () => {
  const image = new MemoryDisk(4096, 0xaa);
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(1);
  await disk.write(512, new Uint8Array(1024).fill(1));
  disk.beginEpoch(2);
  await disk.write(1024, new Uint8Array(1024).fill(2)); // overlaps the second half of the first
  await disk.discard(1536, 512); // and zeros part of it again
  assert.ok(image.bytes.every((b) => b === 0xaa), 'nothing reached the image');
  const seen = await readBack(disk, 0, 2560);
  const expected = [...new Array(512).fill(0xaa), ...new Array(512).fill(1), ...new Array(512).fill(2), ...new Array(512).fill(0), ...new Array(512).fill(0xaa)];
  assert.deepEqual(seen, expected);

  await disk.releaseThrough(1);
  assert.deepEqual(image.trace, ['write 512+1024', 'flush']);
  assert.deepEqual(await readBack(disk, 0, 2560), expected, 'the epoch-2 data still shadows the image');
  assert.deepEqual([...image.bytes.subarray(1024, 1536)], new Array(512).fill(1), 'epoch 1 as it was, epoch 2 not yet');
  disk.beginEpoch(3);
  await disk.releaseThrough(2);
  assert.deepEqual(image.trace.slice(2), ['write 1024+1024', 'discard 1536+512', 'flush']);
  assert.deepEqual([...image.bytes.subarray(0, 2560)], expected);
  assert.equal(disk.holdStats().overlayExtents, 0);
});

test('releasing an older epoch keeps serving a newer epoch\'s held data from memory', async () => {
  const image = new MemoryDisk(4096, 0xaa);
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(1);
  await disk.write(0, new Uint8Array(512).fill(1));
  disk.beginEpoch(2);
  await disk.write(1024, new Uint8Array(512).fill(2));
  disk.beginEpoch(3);
  await disk.releaseThrough(1);
  assert.deepEqual(await readBack(disk, 1024, 512), new Array(512).fill(2));
  assert.equal(image.bytes[1024], 0xaa);
});

test('a read racing a release returns the held data even though the release finishes while the image is being read', async () => {
  const image = new MemoryDisk(4096, 0xaa);
  image.delay = (kind) => (kind === 'read' ? 6 : 0);
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(1);
  await disk.write(0, new Uint8Array(512).fill(1));
  disk.beginEpoch(2);
  const buf = new Uint8Array(1024);
  const reading = disk.read(0, buf); // not fully covered: reads the image (slowly)
  await disk.releaseThrough(1); // writes and forgets the held data meanwhile
  assert.equal(await settled(reading, 0), false, 'the read is still at the image');
  await reading;
  assert.deepEqual([...buf], [...new Array(512).fill(1), ...new Array(512).fill(0xaa)]);
});

test('takeEpochWrites returns what was admitted since the last call, in submission order', async () => {
  const disk = new HoldingBlockBackend(new MemoryDisk(4096));
  disk.startHolding(1);
  await disk.write(0, pattern(512, 1));
  await disk.discard(512, 512);
  await disk.write(512, pattern(512, 2));
  const first = disk.takeEpochWrites();
  assert.deepEqual(first.writes.map((w) => [w.seq, w.offset]), [[0, 0], [2, 512]]);
  assert.deepEqual(first.discards, [{ seq: 1, offset: 512, length: 512 }]);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] });
});

test('a guest FLUSH completes only after every earlier write is released and fdatasynced', async () => {
  const image = new MemoryDisk(4096);
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(1);
  await disk.write(0, pattern(512, 1));
  const flush = disk.flush();
  disk.beginEpoch(2);
  await disk.write(512, pattern(512, 2));
  const flush2 = disk.flush();
  assert.equal(await settled(flush), false, 'epoch 1 is not acknowledged yet');
  await disk.releaseThrough(1);
  assert.equal(await settled(flush), true);
  assert.equal(await settled(flush2), false, 'the second flush also covers the epoch-2 write');
  assert.deepEqual(image.trace, ['write 0+512', 'flush']);
  disk.beginEpoch(3);
  await disk.releaseThrough(2);
  await flush2;
  // Nothing held before this flush: it is the image's own flush at once.
  const flushes = image.flushes;
  await disk.flush();
  assert.equal(image.flushes, flushes + 1);
});

test('a failed release fails the waiting FLUSH with a BlockIoError, keeps the data, and a later release retries', async () => {
  const image = new MemoryDisk(4096);
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(1);
  await disk.write(0, pattern(512, 1));
  const flush = disk.flush();
  image.failWrites = true;
  disk.beginEpoch(2);
  await assert.rejects(disk.releaseThrough(1), BlockIoError);
  await assert.rejects(flush, BlockIoError);
  assert.deepEqual(await readBack(disk, 0, 512), [...pattern(512, 1)], 'still served from memory');
  image.failWrites = false;
  await disk.releaseThrough(1);
  assert.deepEqual([...image.bytes.subarray(0, 512)], [...pattern(512, 1)]);
});

test('memory bound: a write past the limit waits for a release and is logged in the epoch that admits it', async () => {
  const image = new MemoryDisk(8192);
  const disk = new HoldingBlockBackend(image, { maxHeldBytes: 1024 });
  disk.startHolding(1);
  await disk.write(0, pattern(1024, 1));
  const second = disk.write(1024, pattern(512, 2));
  const third = disk.write(2048, pattern(512, 3));
  assert.equal(await settled(second), false);
  assert.equal(disk.holdStats().waitingOps, 2);
  assert.equal(disk.takeEpochWrites().writes.length, 1);
  disk.beginEpoch(2);
  await disk.releaseThrough(1);
  await second;
  await third;
  assert.deepEqual(disk.takeEpochWrites().writes.map((w) => w.offset), [1024, 2048]);
  assert.deepEqual(image.trace, ['write 0+1024', 'flush'], 'the admitted ones belong to epoch 2');
});

test('releaseAll drains held writes first; writes meanwhile queue behind them and complete once on the image', async () => {
  const image = new MemoryDisk(4096);
  image.delay = () => 2;
  const disk = new HoldingBlockBackend(image);
  disk.startHolding(3);
  await disk.write(0, new Uint8Array(512).fill(1));
  const all = disk.releaseAll();
  assert.equal(disk.mode, 'pass');
  const later = disk.write(0, new Uint8Array(512).fill(2));
  await Promise.all([all, later]);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] }, 'unprotected writes are not logged');
  assert.deepEqual(image.trace.filter((t) => t.startsWith('write')), ['write 0+512', 'write 0+512']);
  assert.equal(image.bytes[0], 2);
  // Drained: straight through again.
  await disk.write(512, new Uint8Array(512).fill(3));
  assert.equal(image.bytes[512], 3);
});

test('out-of-order driving and bad requests', async () => {
  const disk = new HoldingBlockBackend(new MemoryDisk(1024));
  assert.throws(() => disk.beginEpoch(1), OutputGateError);
  disk.startHolding(1);
  assert.throws(() => disk.beginEpoch(1), OutputGateError);
  await assert.rejects(disk.write(1000, new Uint8Array(512)), BlockIoError);
  await assert.rejects(disk.read(-1, new Uint8Array(512)), BlockIoError);
});

type Step =
  | { t: 'write'; offset: number; length: number }
  | { t: 'discard'; offset: number; length: number }
  | { t: 'read'; offset: number; length: number }
  | { t: 'epoch' }
  | { t: 'release'; back: number; wait: boolean }
  | { t: 'flush' };

const DISK = 2048;

test('property: reads always match the guest\'s view, the image only ever holds acknowledged epochs, the logged writes rebuild the disk', async () => {
  const range = { offset: fc.integer({ min: 0, max: DISK - 1 }), length: fc.integer({ min: 1, max: 700 }) };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant('write' as const), ...range }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('discard' as const), ...range }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant('read' as const), ...range }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('epoch' as const) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), back: fc.integer({ min: 1, max: 3 }), wait: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('flush' as const) }) },
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 50 }), fc.integer({ min: 0, max: 2 }), async (steps, maxDelay) => {
      const base = pattern(DISK, 99);
      const image = new MemoryDisk(DISK);
      image.bytes.set(base);
      let turn = 0;
      image.delay = () => (turn++ % (maxDelay + 1));
      const disk = new HoldingBlockBackend(image);
      const guest = base.slice(); // what the guest must see
      const log: { epoch: number; apply: (b: Uint8Array) => void }[] = [];
      const shipped: EpochDiskWrites[] = [];
      const flushes: { epoch: number; done: Promise<void> }[] = []; // epoch: the one it must wait for
      const pending: Promise<void>[] = [];
      let epoch = 0;
      let acked = -1;
      const ackedImage = () => {
        const b = base.slice();
        for (const op of log) if (op.epoch <= acked) op.apply(b);
        return b;
      };
      disk.startHolding(0);
      let serial = 0;
      for (const s of steps) {
        if (s.t === 'write' || s.t === 'discard' || s.t === 'read') {
          const length = Math.min(s.length, DISK - s.offset);
          if (s.t === 'write') {
            const data = pattern(length, ++serial);
            await disk.write(s.offset, data);
            data.fill(0xee); // the device reuses its buffer
            const copy = pattern(length, serial);
            log.push({ epoch, apply: (b) => b.set(copy, s.offset) });
            guest.set(copy, s.offset);
          } else if (s.t === 'discard') {
            await disk.discard(s.offset, length);
            log.push({ epoch, apply: (b) => b.fill(0, s.offset, s.offset + length) });
            guest.fill(0, s.offset, s.offset + length);
          } else {
            const buf = new Uint8Array(length);
            await disk.read(s.offset, buf);
            assert.deepEqual(buf, guest.subarray(s.offset, s.offset + length));
          }
        } else if (s.t === 'epoch') {
          shipped.push(disk.takeEpochWrites());
          disk.beginEpoch(++epoch);
        } else if (s.t === 'flush') {
          // It waits for the newest epoch that wrote anything before it (nothing: not at all).
          flushes.push({ epoch: log.length > 0 ? log[log.length - 1].epoch : -1, done: disk.flush() });
        } else {
          const upTo = epoch - s.back;
          if (upTo <= acked) continue;
          acked = upTo;
          pending.push(disk.releaseThrough(acked));
          if (s.wait) {
            await Promise.all(pending.splice(0));
            assert.deepEqual(image.bytes, ackedImage(), 'the image holds exactly the acknowledged epochs');
            // The flush itself still goes to the image, which answers after up to maxDelay turns.
            for (const f of flushes) if (f.epoch <= acked) assert.equal(await settled(f.done, maxDelay + 1), true, 'a flush of an acknowledged epoch completed');
          }
        }
        if (pending.length === 0) assert.deepEqual(image.bytes, ackedImage());
        for (const f of flushes) if (f.epoch > acked) assert.equal(await settled(f.done, 0), false, 'a flush never completes before its epoch is acknowledged');
      }
      await Promise.all(pending);
      shipped.push(disk.takeEpochWrites());
      await disk.releaseAll();
      await Promise.all(flushes.map((f) => f.done));
      assert.deepEqual(image.bytes, guest);
      // The backup's view: the shipped epochs applied in order to the original image.
      const replica = new MemoryDisk(DISK);
      replica.bytes.set(base);
      for (const e of shipped) await applyDiskWrites(replica, e.writes, e.discards);
      assert.deepEqual(replica.bytes, guest);
    }),
    { numRuns: 200 },
  );
});

test('shared mode on a real image file: the file changes only at release', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ft-hold-'));
  try {
    const path = join(dir, 'shared.raw');
    writeFileSync(path, new Uint8Array(64 * 1024).fill(7));
    const image = await RawImage.open({ path, locker: null });
    const disk = new HoldingBlockBackend(image);
    disk.startHolding(1);
    const data = pattern(8192, 5);
    await disk.write(4096, data);
    assert.ok(readFileSync(path).subarray(4096, 12288).every((b) => b === 7), 'another opener of the image sees nothing yet');
    assert.deepEqual(await readBack(disk, 4096 - 512, 1024), [...new Array(512).fill(7), ...data.subarray(0, 512)]);
    disk.beginEpoch(2);
    await disk.releaseThrough(1);
    assert.deepEqual(new Uint8Array(readFileSync(path).subarray(4096, 12288)), data);
    await disk.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
