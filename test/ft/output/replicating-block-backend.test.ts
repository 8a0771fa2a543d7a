import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ReplicatingBlockBackend } from '../../../src/ft/output/replicating-block-backend.js';
import { applyDiskWrites, type EpochDiskWrites } from '../../../src/ft/output/disk-writes.js';
import { DiskReplayError } from '../../../src/ft/output/errors.js';
import { BlockIoError } from '../../../src/block/errors.js';
import { RawImage } from '../../../src/block/raw-image.js';
import { MemoryDisk, pattern, settled, turns } from './fakes.js';

test('not recording: a plain pass-through', async () => {
  const image = new MemoryDisk(4096);
  const disk = new ReplicatingBlockBackend(image);
  await disk.write(0, pattern(512, 1));
  assert.deepEqual([...image.bytes.subarray(0, 512)], [...pattern(512, 1)]);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] });
});

test('recording happens at submission: a write still in flight at the boundary travels in that epoch, as a private copy', async () => {
  const image = new MemoryDisk(4096);
  image.delay = () => 3;
  const disk = new ReplicatingBlockBackend(image);
  disk.startRecording();
  const buffer = pattern(512, 1);
  const inFlight = disk.write(1024, buffer);
  // The boundary comes before the image finished the write.
  const epochN = disk.takeEpochWrites();
  assert.equal(await settled(inFlight, 0), false);
  assert.deepEqual(epochN.writes.map((w) => [w.seq, w.offset]), [[0, 1024]]);
  await inFlight;
  buffer.fill(0); // the device reuses its buffer
  assert.deepEqual(epochN.writes[0].data, pattern(512, 1));
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] }, 'not again in N+1');
});

test('overlapping requests in flight together reach the image in submission order', async () => {
  const image = new MemoryDisk(4096);
  // The first write would finish last if issued at once.
  image.delay = (kind, offset) => (kind === 'write' && offset === 0 ? 4 : 0);
  const disk = new ReplicatingBlockBackend(image);
  disk.startRecording();
  const a = disk.write(0, new Uint8Array(1024).fill(1));
  const b = disk.write(512, new Uint8Array(512).fill(2));
  const c = disk.write(2048, new Uint8Array(512).fill(3)); // no overlap: not held back
  await c;
  assert.equal(await settled(b, 0), false);
  await Promise.all([a, b]);
  assert.equal(image.bytes[600], 2, 'the later write wins, as it will on the backup');
  assert.deepEqual(image.trace, ['write 2048+512', 'write 0+1024', 'write 512+512']);
});

test('requests the image would refuse are refused before anything is recorded', async () => {
  const disk = new ReplicatingBlockBackend(new MemoryDisk(1024));
  disk.startRecording();
  await assert.rejects(disk.write(1000, new Uint8Array(512)), BlockIoError);
  await assert.rejects(disk.discard(-512, 512), BlockIoError);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] });
});

test('stopRecording forgets what was not taken', async () => {
  const disk = new ReplicatingBlockBackend(new MemoryDisk(4096));
  disk.startRecording();
  await disk.write(0, pattern(512, 1));
  assert.equal(disk.pendingStats().bytes, 512);
  disk.stopRecording();
  assert.equal(disk.recording, false);
  assert.deepEqual(disk.takeEpochWrites(), { writes: [], discards: [] });
});

test('applyDiskWrites validates the whole batch before touching the image', async () => {
  const image = new MemoryDisk(4096, 9);
  const good = { seq: 0, offset: 0, data: pattern(512, 1) };
  const cases: [string, Parameters<typeof applyDiskWrites>[1], Parameters<typeof applyDiskWrites>[2], RegExp][] = [
    ['past the end', [good, { seq: 1, offset: 4000, data: new Uint8Array(512) }], [], /outside the 4096-byte image/],
    ['duplicate seq', [good], [{ seq: 0, offset: 0, length: 512 }], /appears twice/],
    ['gap in seq', [good, { seq: 5, offset: 0, data: new Uint8Array(1) }], [], /outside 0\.\.1/],
    ['negative length', [good], [{ seq: 1, offset: 0, length: -1 }], /outside the/],
  ];
  for (const [what, writes, discards, message] of cases) {
    await assert.rejects(applyDiskWrites(image, writes, discards), (e: Error) => e instanceof DiskReplayError && message.test(e.message), what);
  }
  assert.ok(image.bytes.every((b) => b === 9), 'nothing applied');
});

test('property: the epochs recorded on the primary, applied in order, rebuild its image exactly', async () => {
  const op = fc.record({
    kind: fc.constantFrom('write', 'write', 'write', 'discard', 'boundary'),
    sector: fc.integer({ min: 0, max: 15 }),
    sectors: fc.integer({ min: 1, max: 6 }),
    wait: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
      const size = 16 * 512;
      const primaryImage = new MemoryDisk(size, 0x5a);
      let turn = 0;
      primaryImage.delay = () => turn++ % 3; // completions out of order
      const primary = new ReplicatingBlockBackend(primaryImage);
      primary.startRecording();
      const epochs: EpochDiskWrites[] = [];
      const inFlight: Promise<void>[] = [];
      let serial = 0;
      for (const o of ops) {
        const offset = o.sector * 512;
        const length = Math.min(o.sectors * 512, size - offset);
        if (o.kind === 'boundary') epochs.push(primary.takeEpochWrites());
        else {
          const p = o.kind === 'write' ? primary.write(offset, pattern(length, ++serial)) : primary.discard(offset, length);
          inFlight.push(p);
          if (o.wait) await p;
        }
      }
      epochs.push(primary.takeEpochWrites());
      await Promise.all(inFlight);
      const backupImage = new MemoryDisk(size, 0x5a);
      for (const e of epochs) await applyDiskWrites(backupImage, e.writes, e.discards);
      assert.deepEqual(backupImage.bytes, primaryImage.bytes);
    }),
    { numRuns: 200 },
  );
});

test('real images: epochs recorded on one RawImage and applied to a second give identical files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ft-repl-'));
  try {
    const size = 256 * 1024;
    const initial = pattern(size, 3);
    writeFileSync(join(dir, 'primary.raw'), initial);
    writeFileSync(join(dir, 'backup.raw'), initial);
    const primaryImage = await RawImage.open({ path: join(dir, 'primary.raw'), locker: null });
    const backupImage = await RawImage.open({ path: join(dir, 'backup.raw'), locker: null });
    const primary = new ReplicatingBlockBackend(primaryImage);
    primary.startRecording();
    const epochs: EpochDiskWrites[] = [];
    // Epoch 1: two writes in flight together, one overlapping the other.
    const a = primary.write(0, pattern(64 * 1024, 10));
    const b = primary.write(32 * 1024, pattern(8192, 11));
    epochs.push(primary.takeEpochWrites());
    await Promise.all([a, b]);
    // Epoch 2: a discard (a punched hole), then a write into part of it, then a flush.
    await primary.discard(128 * 1024, 64 * 1024);
    await primary.write(160 * 1024, pattern(4096, 12));
    await primary.flush();
    epochs.push(primary.takeEpochWrites());
    assert.deepEqual(epochs.map((e) => [e.writes.length, e.discards.length]), [[2, 0], [1, 1]]);
    for (const e of epochs) await applyDiskWrites(backupImage, e.writes, e.discards);
    await backupImage.flush();
    await primaryImage.close();
    await backupImage.close();
    const p = readFileSync(join(dir, 'primary.raw'));
    const q = readFileSync(join(dir, 'backup.raw'));
    assert.ok(p.equals(q), 'the two image files are byte-identical');
    assert.ok(!p.equals(Buffer.from(initial)), 'and the workload changed them');
    assert.ok(p.subarray(128 * 1024, 160 * 1024).every((x) => x === 0), 'the discarded range reads as zeros');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The replicated-mode guarantee in one run: what the guest could have seen completed by
// a boundary is on the backup once that epoch is applied, and in-flight ones are re-issued.
test('failover at a boundary: applied epochs plus re-issued in-flight writes give the primary\'s final image', async () => {
  const primaryImage = new MemoryDisk(4096);
  primaryImage.delay = () => 2;
  const primary = new ReplicatingBlockBackend(primaryImage);
  primary.startRecording();
  await primary.write(0, pattern(512, 1));
  const inFlight = primary.write(512, pattern(512, 2));
  const epochN = primary.takeEpochWrites(); // boundary while the second write is in flight
  await inFlight;
  const backupImage = new MemoryDisk(4096);
  await applyDiskWrites(backupImage, epochN.writes, epochN.discards);
  await backupImage.write(512, pattern(512, 2)); // virtio-blk's restore re-issues the in-flight request
  await turns(1);
  assert.deepEqual(backupImage.bytes, primaryImage.bytes);
});
