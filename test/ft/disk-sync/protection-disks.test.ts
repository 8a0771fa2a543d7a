/**
 * The initial disk copy inside a real fault-tolerance start (tiny KVM machines in this
 * process, test/ft/engine/ft-pair.ts): `migrate -c` with cuju-ft copies the primary's
 * replicated disk into the backup's own image, which started out full of other data,
 * while writes keep reaching the primary's image through its FT gate (as the guest's
 * virtio-blk would issue them); those travel in the epochs, and once the epochs after
 * the last write are committed the backup's image is the primary's byte for byte. A
 * read-only disk is not copied but proved equal. An image of another size is refused
 * before anything is written, in one line, and the primary runs on unprotected.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvmSystem } from '../../../src/kvm/system.js';
import { RawImage } from '../../../src/block/raw-image.js';
import { ftDisks } from '../../../src/ft/disk-sync/disks.js';
import { ReplicatingBlockBackend } from '../../../src/ft/output/replicating-block-backend.js';
import { MigrationController } from '../../../src/migration/controller.js';
import { formatInfoMigrate } from '../../../src/migration/status.js';
import { kvmSkipReason } from '../../helpers/kvm.js';
import { assertCounterAdvances } from '../../migration/harness.js';
import { openPair, untilAcked } from '../engine/ft-pair.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 90_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const MiB = 1048576;

interface Images {
  dir: string;
  primaryPath: string;
  backupPath: string;
  open(): Promise<{ p: RawImage; b: RawImage; pCd: RawImage; bCd: RawImage; close(): Promise<void> }>;
}

/** drive0: the primary's sparse with data, the backup's full of random bytes; cd0: the same read-only bytes on both. */
function makeImages(primaryBytes: number, backupBytes: number): Images {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ftdisk-'));
  const primaryPath = join(dir, 'primary.raw');
  const backupPath = join(dir, 'backup.raw');
  writeFileSync(primaryPath, '');
  truncateSync(primaryPath, primaryBytes);
  writeFileSync(backupPath, randomBytes(backupBytes));
  const cd = randomBytes(MiB);
  writeFileSync(join(dir, 'cd-primary.raw'), cd);
  writeFileSync(join(dir, 'cd-backup.raw'), cd);
  return {
    dir, primaryPath, backupPath,
    async open() {
      const p = await RawImage.open({ path: primaryPath, locker: null });
      for (let i = 0; i < 10; i++) await p.write(((i * 1_234_567) % (primaryBytes - 200_000)) & ~511, randomBytes(20_000 * (i + 1)));
      const b = await RawImage.open({ path: backupPath, locker: null });
      const pCd = await RawImage.open({ path: join(dir, 'cd-primary.raw'), readonly: true, locker: null });
      const bCd = await RawImage.open({ path: join(dir, 'cd-backup.raw'), readonly: true, locker: null });
      return { p, b, pCd, bCd, close: async () => { await Promise.all([p.close(), b.close(), pCd.close(), bCd.close()]); } };
    },
  };
}

/** Writes of random sizes at random places through the primary's gate, every couple of ms, until stopped. */
function hostWriter(gate: ReplicatingBlockBackend, size: number) {
  let running = true;
  const pending = new Set<Promise<void>>();
  let count = 0;
  const timer = setInterval(() => {
    if (!running) return;
    const len = 512 * (1 + Math.floor(Math.random() * 64));
    const at = Math.floor(Math.random() * ((size - len) / 512)) * 512;
    const w = count % 5 === 4 ? gate.discard(at, len) : gate.write(at, randomBytes(len));
    count++;
    pending.add(w);
    void w.finally(() => pending.delete(w));
  }, 2);
  return {
    get count() { return count; },
    async stop() {
      running = false;
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}

// With -ft-key the stream MAC covers the disk copy on both sides: were one side to leave
// it out, the MACs would differ and the backup would refuse the 'ft' command.
for (const key of [undefined, randomBytes(32)]) test(`cuju-ft copies the replicated disk while writes go on; at a committed epoch the backup image equals the primary's${key ? ' (with -ft-key)' : ''}`, opts, async () => {
  const size = 16 * MiB;
  const images = makeImages(size, size);
  const opened = await images.open();
  const pGate = new ReplicatingBlockBackend(opened.p);
  const primaryDisks = ftDisks(['drive0', 'cd0'], [pGate, new ReplicatingBlockBackend(opened.pCd)], [opened.p, opened.pCd]);
  const backupDisks = ftDisks(['drive0', 'cd0'], [new ReplicatingBlockBackend(opened.b), new ReplicatingBlockBackend(opened.bCd)], [opened.b, opened.bCd]);
  const pair = await openPair(kvm!, undefined, { primary: primaryDisks, backup: backupDisks }, { key });
  const writer = hostWriter(pGate, size);
  try {
    const c = new MigrationController(pair.primary);
    c.setCapability('cuju-ft', true);
    const stats = await c.start(`tcp:127.0.0.1:${pair.port}`);
    assert.equal(stats.status, 'completed', stats.error);
    assert.equal(pair.primaryFt.stats.state, 'protected', pair.primaryFt.stats.reason);
    const before = writer.count;

    // Progress: the disk bytes are counted, zeros were not sent.
    assert.ok(stats.disk, 'the migration stats count the disk copy');
    assert.equal(stats.disk.totalBytes, size, 'only the replicated disk counts');
    assert.equal(stats.disk.scannedBytes, size);
    assert.ok(stats.disk.transferredBytes > 0 && stats.disk.transferredBytes < size / 2, `sparse: ${stats.disk.transferredBytes} of ${size} bytes sent`);
    assert.match(formatInfoMigrate(stats, c.capabilities), /^disk: transferred \d+\.\d MiB of 16\.0 MiB \(16\.0 MiB read, \d+\.\d MiB of zeros skipped\)$/m);

    // Epochs flow while the writes go on.
    await untilAcked(pair, pair.primaryFt.stats.epoch + 5);
    await writer.stop();
    assert.ok(writer.count > before, `writes went on after protection started (${before} → ${writer.count})`);
    // Every write has landed here and is recorded in an epoch up to the next one taken.
    await untilAcked(pair, pair.primaryFt.stats.epoch + 1);
    assert.equal(pair.primaryFt.stats.state, 'protected');
    const primaryBytes = readFileSync(images.primaryPath);
    const backupBytes = readFileSync(images.backupPath);
    assert.ok(primaryBytes.equals(backupBytes), `the backup's image differs from the primary's from byte ${primaryBytes.findIndex((b, i) => b !== backupBytes[i])}`);
    await assertCounterAdvances(() => pair.primary.counter, 'the protected primary');
  } finally {
    await writer.stop();
    await pair.close();
    await opened.close();
    rmSync(images.dir, { recursive: true, force: true });
  }
});

test('a backup image of another size is refused before anything is written, in one line; the primary runs on unprotected', opts, async () => {
  const images = makeImages(16 * MiB, 8 * MiB);
  const opened = await images.open();
  const pGate = new ReplicatingBlockBackend(opened.p);
  const primaryDisks = ftDisks(['drive0', 'cd0'], [pGate, new ReplicatingBlockBackend(opened.pCd)], [opened.p, opened.pCd]);
  const backupDisks = ftDisks(['drive0', 'cd0'], [new ReplicatingBlockBackend(opened.b), new ReplicatingBlockBackend(opened.bCd)], [opened.b, opened.bCd]);
  const pair = await openPair(kvm!, undefined, { primary: primaryDisks, backup: backupDisks });
  try {
    const backupBefore = readFileSync(images.backupPath);
    const c = new MigrationController(pair.primary);
    c.setCapability('cuju-ft', true);
    const stats = await c.start(`tcp:127.0.0.1:${pair.port}`);
    assert.equal(stats.status, 'failed');
    assert.equal(stats.error, "the destination refused the migration: disk 'drive0' is 8 MiB here and 16 MiB on the primary: give the backup an image of the same size");
    assert.ok(readFileSync(images.backupPath).equals(backupBefore), 'the backup image was not touched');
    assert.equal(pGate.recording, false, 'the primary stopped recording disk writes');
    assert.equal(pair.primaryFt.primary, undefined);
    assert.equal(pair.primary.runState(), 'running');
    await assertCounterAdvances(() => pair.primary.counter, 'the primary after the refusal');
  } finally {
    await pair.close();
    await opened.close();
    rmSync(images.dir, { recursive: true, force: true });
  }
});
