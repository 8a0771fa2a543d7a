/**
 * The whole disk copy over a loopback socket (DiskCopySender → receiveDiskCopy), with
 * the FT gates of a real primary: writes submitted before recording started must have
 * landed before the copy reads, writes made during the copy are recorded and, applied
 * after it as epoch 1 would be, leave the backup's image equal to the primary's byte
 * for byte, even when the backup's image started out full of other data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '../../../src/block/raw-image.js';
import { ftDisks, type FtDisk } from '../../../src/ft/disk-sync/disks.js';
import { receiveDiskCopy } from '../../../src/ft/disk-sync/receiver.js';
import { DiskCopySender } from '../../../src/ft/disk-sync/sender.js';
import { socketExactReader } from '../../../src/ft/disk-sync/socket-reader.js';
import { FtBackupDisks, FtOutputCommit } from '../../../src/ft/output/ft-output-commit.js';
import { ReplicatingBlockBackend } from '../../../src/ft/output/replicating-block-backend.js';
import { emptyDiskCopyStats } from '../../../src/migration/status.js';
import { socketPair } from '../../migration/socket-pair.js';
import { MemoryDisk, pattern, turns } from '../output/fakes.js';
import { diskOf } from './helpers.js';

/** Sends `primary`'s disks into `backup`'s over a loopback connection. */
async function copy(primary: FtDisk[], backup: FtDisk[]) {
  const pair = await socketPair();
  try {
    const stats = emptyDiskCopyStats();
    const [receipt] = await Promise.all([
      receiveDiskCopy(socketExactReader(pair.server), backup),
      new DiskCopySender(primary).send(pair.client, stats),
    ]);
    return { receipt, stats };
  } finally {
    pair.close();
  }
}

test('a write submitted before recording started lands before the copy reads that range', async () => {
  const image = new MemoryDisk(1 << 20);
  const gate = new ReplicatingBlockBackend(image);
  const outputs = new FtOutputCommit([], [gate]);
  const primary: FtDisk[] = [{ id: 'd', mode: 'replicated', gate, image }];
  // The write reaches the image only after many turns; a read issued before that sees the old bytes.
  image.delay = (kind) => (kind === 'write' ? 200 : 0);
  const early = gate.write(4096, pattern(8192, 1));
  outputs.recordDiskWrites();
  const backupImage = new MemoryDisk(1 << 20, 0x77);
  await copy(primary, [diskOf('d', 'replicated', backupImage)]);
  await early;
  assert.ok(Buffer.from(backupImage.bytes).equals(Buffer.from(image.bytes)), 'the unrecorded write is on the backup');
  assert.deepEqual(outputs.takeDiskWrites().writes, [], 'it was indeed not recorded');
});

test('the copy refuses to start when writes are not being recorded', async () => {
  const image = new MemoryDisk(4096);
  const pair = await socketPair();
  try {
    await assert.rejects(new DiskCopySender([diskOf('d', 'replicated', image)]).send(pair.client, emptyDiskCopyStats()), /writes are not being recorded/);
  } finally {
    pair.close();
  }
});

test('real images: copy while writes go on, then apply the recorded writes as epoch 1: the backup equals the primary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-diskcopy-'));
  const size = 24 * 1048576;
  try {
    // The primary: sparse, with data here and there. The backup: full of other data.
    const primaryPath = join(dir, 'primary.raw');
    writeFileSync(primaryPath, '');
    truncateSync(primaryPath, size);
    const backupPath = join(dir, 'backup.raw');
    writeFileSync(backupPath, randomBytes(size));
    const pImage = await RawImage.open({ path: primaryPath, locker: null });
    const bImage = await RawImage.open({ path: backupPath, locker: null });
    try {
      for (let i = 0; i < 12; i++) await pImage.write((i * 1_999_993) % (size - 70_000), randomBytes(4096 + i * 5000));
      const pGate = new ReplicatingBlockBackend(pImage);
      const outputs = new FtOutputCommit([], [pGate]);
      const primary = ftDisks(['drive0'], [pGate], [pImage]);
      const backup = ftDisks(['drive0'], [new ReplicatingBlockBackend(bImage)], [bImage]);

      // Writes in flight when recording starts, and all through the copy.
      let writing = true;
      const inFlight: Promise<void>[] = [];
      let n = 0;
      const writer = (async () => {
        while (writing) {
          const len = 512 * (1 + (n % 64));
          inFlight.push(pGate.write((n * 7_654_321) % (size - len), randomBytes(len)));
          if (n++ % 3 === 0) inFlight.push(pGate.discard((n * 3_333_331) % (size - 8192), 8192));
          await turns(1);
        }
      })();
      let copied: Awaited<ReturnType<typeof copy>>;
      try {
        await turns(5);
        outputs.recordDiskWrites();
        copied = await copy(primary, backup);
      } finally {
        writing = false;
        await writer;
        await Promise.all(inFlight);
      }
      const { receipt, stats } = copied;
      assert.ok(n > 20, `writes went on during the copy (${n})`);

      // Epoch 1: everything recorded since recording started, coalesced, applied by the backup.
      const epoch1 = outputs.takeDiskWrites();
      assert.ok(epoch1.writes.length > 0);
      await new FtBackupDisks([bImage], false).apply(epoch1.writes, epoch1.discards);
      assert.ok(readFileSync(backupPath).equals(readFileSync(primaryPath)), 'the backup image is the primary image byte for byte');

      // Sparse: zeros were not sent; the stats say so.
      assert.equal(stats.totalBytes, size);
      assert.equal(stats.scannedBytes, size);
      assert.equal(stats.transferredBytes, receipt.dataBytes);
      assert.equal(stats.transferredBytes + stats.zeroBytes, size);
      assert.ok(stats.transferredBytes < size / 2, `only data went over (${stats.transferredBytes} of ${size})`);
    } finally {
      await pImage.close();
      await bImage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
