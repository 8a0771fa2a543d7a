import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FtBackupDisks, FtOutputCommit } from '../../../src/ft/output/ft-output-commit.js';
import { GatedNetBackend } from '../../../src/ft/output/gated-net-backend.js';
import { HoldingBlockBackend } from '../../../src/ft/output/holding-block-backend.js';
import { ReplicatingBlockBackend } from '../../../src/ft/output/replicating-block-backend.js';
import { applyDiskWrites, coalesceDiskWrites, type EpochDiskWrites } from '../../../src/ft/output/disk-writes.js';
import { DiskReplayError } from '../../../src/ft/output/errors.js';
import { FakeNet, MemoryDisk, pattern } from './fakes.js';

test('property: a coalesced epoch has no overlapping ranges and gives the ordered result in any order', async () => {
  const op = fc.record({ discard: fc.boolean(), offset: fc.integer({ min: 0, max: 1000 }), length: fc.integer({ min: 1, max: 300 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
      const size = 1400;
      const epoch: EpochDiskWrites = { writes: [], discards: [] };
      ops.forEach((o, seq) => {
        if (o.discard) epoch.discards.push({ seq, offset: o.offset, length: o.length });
        else epoch.writes.push({ seq, offset: o.offset, data: pattern(o.length, seq + 1) });
      });
      const ordered = new MemoryDisk(size, 0x33);
      await applyDiskWrites(ordered, epoch.writes, epoch.discards);
      const c = coalesceDiskWrites(epoch);
      const ranges = [...c.writes.map((w) => [w.offset, w.offset + w.data.length]), ...c.discards.map((d) => [d.offset, d.offset + d.length])].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i][0] >= ranges[i - 1][1]);
      // Discards first, then writes in reverse: the order does not matter any more.
      const shuffled = new MemoryDisk(size, 0x33);
      for (const d of c.discards) await shuffled.discard(d.offset, d.length);
      for (const w of [...c.writes].reverse()) await shuffled.write(w.offset, w.data);
      assert.deepEqual(shuffled.bytes, ordered.bytes);
    }),
    { numRuns: 300 },
  );
});

test('FtOutputCommit drives every gate the way the primary engine calls it', async () => {
  const wire = new FakeNet();
  const net = new GatedNetBackend(wire);
  const ownImage = new MemoryDisk(4096);
  const sharedImage = new MemoryDisk(4096);
  const replicated = new ReplicatingBlockBackend(ownImage);
  const shared = new HoldingBlockBackend(sharedImage);
  const output = new FtOutputCommit([net], [replicated, shared]);

  output.beginEpoch(1); // start(): protection begins
  net.send([new Uint8Array([1])]);
  await replicated.write(0, pattern(512, 1));
  await replicated.write(256, pattern(512, 2)); // overlaps: coalesced away
  await shared.write(512, pattern(512, 3));
  assert.deepEqual(output.held(), { packets: 1, bytes: 1, writes: 1 });

  const disk = output.takeDiskWrites(); // the boundary of epoch 1
  output.beginEpoch(2);
  assert.deepEqual(disk.writes.map((w) => [w.device, w.offset, w.data.length]), [[0, 0, 256], [0, 256, 512], [1, 512, 512]]);
  assert.equal(wire.sent.length, 0);
  assert.equal(sharedImage.bytes[512], 0);

  await output.release(1); // the backup acknowledged epoch 1
  assert.equal(wire.sent.length, 1);
  assert.deepEqual(sharedImage.bytes.subarray(512, 1024), pattern(512, 3));

  // The backup replays the epoch on its own copies.
  const backupOwn = new MemoryDisk(4096);
  const backupShared = new MemoryDisk(4096);
  await new FtBackupDisks([backupOwn, backupShared], false).apply(disk.writes, disk.discards);
  assert.deepEqual(backupOwn.bytes, ownImage.bytes);
  assert.deepEqual(backupShared.bytes.subarray(512, 1024), pattern(512, 3));

  net.send([new Uint8Array([2])]);
  await output.releaseAll(); // backup lost
  assert.equal(wire.sent.length, 2);
  assert.equal(net.mode, 'pass');
  assert.equal(shared.mode, 'pass');
  assert.equal(replicated.recording, false);
  output.beginEpoch(1); // a new protection session starts over
  assert.equal(net.mode, 'hold');
});

test('FtBackupDisks refuses unknown devices and uncoalesced batches before applying anything', async () => {
  const a = new MemoryDisk(4096, 1);
  const b = new MemoryDisk(4096, 1);
  const disks = new FtBackupDisks([a, b], false);
  const good = { device: 0, offset: 0, data: pattern(512, 1) };
  await assert.rejects(disks.apply([good, { device: 2, offset: 0, data: new Uint8Array(1) }], []), (e: Error) => e instanceof DiskReplayError && /device 2/.test(e.message));
  await assert.rejects(disks.apply([good], [{ device: 0, offset: 256, length: 512 }]), (e: Error) => e instanceof DiskReplayError && /overlapping/.test(e.message));
  await assert.rejects(disks.apply([good, { device: 1, offset: 4000, data: new Uint8Array(512) }], []), DiskReplayError);
  assert.ok(a.bytes.every((x) => x === 1) && b.bytes.every((x) => x === 1));
});
