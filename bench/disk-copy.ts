/**
 * The initial disk copy of fault tolerance (src/ft/disk-sync) over loopback TCP between
 * two raw images in a temporary directory: a sparse image (holes only), one full of
 * data, and a half-and-half one; the backup's image starts full of other bytes.
 * Prints MiB/s of image scanned and of data sent. Run: node dist/bench/disk-copy.js [MiB]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawImage } from '../src/block/raw-image.js';
import { ftDisks } from '../src/ft/disk-sync/disks.js';
import { receiveDiskCopy } from '../src/ft/disk-sync/receiver.js';
import { DiskCopySender } from '../src/ft/disk-sync/sender.js';
import { socketExactReader } from '../src/ft/disk-sync/socket-reader.js';
import { ReplicatingBlockBackend } from '../src/ft/output/replicating-block-backend.js';
import { emptyDiskCopyStats } from '../src/migration/status.js';
import { socketPair } from '../test/migration/socket-pair.js';

const MiB = 1048576;
const sizeMiB = Number(process.argv[2] ?? 256);

function fill(path: string, dataEvery: number): void {
  writeFileSync(path, '');
  truncateSync(path, sizeMiB * MiB);
  if (dataEvery === 0) return;
  const fd = openSync(path, 'r+');
  const chunk = randomBytes(MiB);
  for (let m = 0; m < sizeMiB; m += dataEvery) writeSync(fd, chunk, 0, MiB, m * MiB);
  closeSync(fd);
}

async function run(name: string, dataEvery: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-bench-diskcopy-'));
  try {
    const p = join(dir, 'p.raw');
    const b = join(dir, 'b.raw');
    fill(p, dataEvery);
    fill(b, 1);
    const pImage = await RawImage.open({ path: p, locker: null });
    const bImage = await RawImage.open({ path: b, locker: null });
    const gate = new ReplicatingBlockBackend(pImage);
    gate.startRecording();
    const pair = await socketPair();
    const stats = emptyDiskCopyStats();
    const t0 = performance.now();
    await Promise.all([
      receiveDiskCopy(socketExactReader(pair.server), ftDisks(['d'], [new ReplicatingBlockBackend(bImage)], [bImage])),
      new DiskCopySender(ftDisks(['d'], [gate], [pImage])).send(pair.client, stats),
    ]);
    const s = (performance.now() - t0) / 1000;
    pair.close();
    await pImage.close();
    await bImage.close();
    console.log(`${name.padEnd(22)} ${sizeMiB} MiB in ${(s * 1000).toFixed(0)} ms: ${(sizeMiB / s).toFixed(0)} MiB/s scanned, ${(stats.transferredBytes / MiB / s).toFixed(0)} MiB/s of data sent (${(stats.transferredBytes / MiB).toFixed(0)} MiB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await run('sparse (all holes)', 0);
await run('half data', 2);
await run('all data', 1);
