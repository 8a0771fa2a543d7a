/**
 * What the backup accepts (src/ft/disk-sync/validation.ts, receiver.ts): the manifest
 * must describe this host's disks (one clear line on the first difference, before
 * anything is written); then records must tile each replicated disk exactly, in order;
 * anything out of range, skipped, repeated or aimed at the wrong kind of disk is a
 * protocol error and the image keeps only what was valid before it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DiskCopyError, DiskMismatchError } from '../../../src/ft/disk-sync/errors.js';
import { encodeRecord, type DiskRecord, type ManifestDisk } from '../../../src/ft/disk-sync/format.js';
import { receiveDiskCopy } from '../../../src/ft/disk-sync/receiver.js';
import { DiskCopyValidator } from '../../../src/ft/disk-sync/validation.js';
import { MemoryDisk } from '../output/fakes.js';
import { bufferReader, concat, diskOf, readonlyView } from './helpers.js';

const MiB = 1048576;

function stream(records: DiskRecord[]): Buffer {
  return concat(records.map(encodeRecord));
}

test('an image of another size is refused before anything is written, in one line naming both sizes and the fix', async () => {
  const image = new MemoryDisk(64 * MiB, 0xaa);
  const disks = [diskOf('drive0', 'replicated', image)];
  const theirs: ManifestDisk[] = [{ id: 'drive0', sizeBytes: 32 * MiB, mode: 'replicated' }];
  await assert.rejects(
    receiveDiskCopy(bufferReader(stream([{ type: 'manifest', disks: theirs }, { type: 'zero', disk: 0, offset: 0, length: 32 * MiB }, { type: 'end' }])), disks),
    (e: unknown) => e instanceof DiskMismatchError && e.message === "disk 'drive0' is 64 MiB here and 32 MiB on the primary: give the backup an image of the same size",
  );
  assert.deepEqual(image.trace, [], 'nothing was written');
  // Sizes that are not whole MiB are given in bytes: a difference never rounds away.
  const odd = [diskOf('d', 'replicated', new MemoryDisk(MiB + 512))];
  assert.throws(() => new DiskCopyValidator(odd).accept({ type: 'manifest', disks: [{ id: 'd', sizeBytes: MiB, mode: 'replicated' }] }), /is 1049088 bytes here and 1 MiB on the primary/);
});

test('other disk counts, ids and modes are refused with the option to fix', () => {
  const ours = [diskOf('d0', 'replicated', new MemoryDisk(4096)), diskOf('cd', 'readonly', readonlyView(new MemoryDisk(4096)))];
  const check = (theirs: ManifestDisk[], re: RegExp) => assert.throws(() => new DiskCopyValidator(ours).accept({ type: 'manifest', disks: theirs }), (e: unknown) => e instanceof DiskMismatchError && re.test(e.message));
  const d0: ManifestDisk = { id: 'd0', sizeBytes: 4096, mode: 'replicated' };
  const cd: ManifestDisk = { id: 'cd', sizeBytes: 4096, mode: 'readonly' };
  check([d0], /the primary has 1 disk, this backup has 2: start both with the same -drive options/);
  check([d0, { ...cd, id: 'cdrom' }], /disk 1 is 'cd' here and 'cdrom' on the primary/);
  check([d0, { ...cd, mode: 'replicated' }], /disk 'cd' is read-only here and writable \(own copy\) on the primary: give it the same readonly= and share-rw= options/);
  check([{ ...d0, mode: 'shared' }, cd], /disk 'd0' is writable \(own copy\) here and shared \(share-rw=on\) on the primary/);
});

test('records must tile each replicated disk in order; out of range, gaps, overlaps, wrong disks are protocol errors', () => {
  const disks = [
    diskOf('a', 'replicated', new MemoryDisk(8192)),
    diskOf('s', 'shared', new MemoryDisk(4096)),
    diskOf('r', 'readonly', readonlyView(new MemoryDisk(4096))),
    diskOf('b', 'replicated', new MemoryDisk(4096)),
  ];
  const manifest: DiskRecord = { type: 'manifest', disks: disks.map((d) => ({ id: d.id, sizeBytes: d.image.sizeBytes, mode: d.mode })) };
  const data = (disk: number, offset: number, n: number): DiskRecord => ({ type: 'data', disk, offset, data: new Uint8Array(n).fill(1) });
  const run = (records: DiskRecord[]) => {
    const v = new DiskCopyValidator(disks);
    for (const r of records) v.accept(r);
    return v;
  };
  const good: DiskRecord[] = [manifest, data(0, 0, 4096), { type: 'zero', disk: 0, offset: 4096, length: 4096 }, { type: 'digest', disk: 2, sha256: new Uint8Array(32) }, data(3, 0, 4096), { type: 'end' }];
  assert.equal(run(good).finished, true);
  const refused = (records: DiskRecord[], re: RegExp) => assert.throws(() => run(records), (e: unknown) => e instanceof DiskCopyError && re.test(e.message));
  refused([data(0, 0, 10)], /starts with a data record instead of the manifest/);
  refused([manifest, data(0, 0, 8193)], /0\+8193 runs past the end of disk 'a' \(8192 bytes\)/);
  refused([manifest, data(0, 4096, 4096)], /starts at 4096, where 0 was expected/);
  refused([manifest, data(0, 0, 4096), data(0, 2048, 4096)], /starts at 2048, where 4096 was expected/);
  refused([manifest, data(3, 0, 4096)], /for disk 'b' where disk 'a' was expected/);
  refused([manifest, data(7, 0, 1)], /for disk 7, but there are 4 disks/);
  refused([manifest, data(0, 0, 8192), data(1, 0, 1)], /for disk 's' where disk 'r' was expected/);
  refused([manifest, data(0, 0, 8192), data(2, 0, 1)], /for disk 'r', which is readonly/);
  refused([manifest, data(0, 0, 8192), { type: 'end' }], /ended before disk 'r' was complete/);
  refused([...good, { type: 'end' }], /end record after the end record/);
  refused([manifest, manifest], /manifest sent twice/);
});

test('fuzz: a record is accepted exactly when it continues the disk where it left off and stays inside it', () => {
  fc.assert(fc.property(fc.array(fc.record({ offset: fc.nat(20_000), length: fc.integer({ min: 1, max: 20_000 }) }), { maxLength: 12 }), (chunks) => {
    const size = 16_384;
    const v = new DiskCopyValidator([diskOf('a', 'replicated', new MemoryDisk(size))]);
    v.accept({ type: 'manifest', disks: [{ id: 'a', sizeBytes: size, mode: 'replicated' }] });
    let covered = 0;
    for (const c of chunks) {
      const ok = c.offset === covered && c.offset + c.length <= size && covered < size;
      let accepted = true;
      try {
        v.accept({ type: 'zero', disk: 0, offset: c.offset, length: c.length });
      } catch (e) {
        assert.ok(e instanceof DiskCopyError, String(e));
        accepted = false;
      }
      assert.equal(accepted, ok, `chunk ${c.offset}+${c.length} with ${covered} covered`);
      if (!ok) return;
      covered += c.length;
    }
  }));
});

test('the receiver applies valid records and stops at the first bad one: nothing beyond it reaches the image', async () => {
  const image = new MemoryDisk(3 * 4096, 0x55);
  const disks = [diskOf('d', 'replicated', image)];
  const bytes = stream([
    { type: 'manifest', disks: [{ id: 'd', sizeBytes: 3 * 4096, mode: 'replicated' }] },
    { type: 'data', disk: 0, offset: 0, data: new Uint8Array(4096).fill(7) },
    { type: 'data', disk: 0, offset: 8192, data: new Uint8Array(8192).fill(9) }, // a gap, and past the end
  ]);
  await assert.rejects(receiveDiskCopy(bufferReader(bytes), disks), DiskCopyError);
  assert.deepEqual(image.trace, ['write 0+4096']);
  assert.ok(image.bytes.subarray(4096).every((b) => b === 0x55), 'the rest of the image is untouched');

  // A complete copy: data written, zeros punched, the image flushed once.
  const full = stream([
    { type: 'manifest', disks: [{ id: 'd', sizeBytes: 3 * 4096, mode: 'replicated' }] },
    { type: 'zero', disk: 0, offset: 0, length: 4096 },
    { type: 'data', disk: 0, offset: 4096, data: new Uint8Array(8192).fill(3) },
    { type: 'end' },
  ]);
  const receipt = await receiveDiskCopy(bufferReader(full), disks);
  assert.deepEqual(receipt, { dataBytes: 8192, zeroBytes: 4096, records: 4 });
  assert.ok(image.bytes.subarray(0, 4096).every((b) => b === 0) && image.bytes.subarray(4096).every((b) => b === 3));
  assert.equal(image.flushes, 1);
});

test('a read-only disk is not written: its digest must match this host\'s image', async () => {
  const content = new MemoryDisk(8192, 0x42);
  const disks = [diskOf('cd', 'readonly', readonlyView(content))];
  const { createHash } = await import('node:crypto');
  const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
  const manifest: DiskRecord = { type: 'manifest', disks: [{ id: 'cd', sizeBytes: 8192, mode: 'readonly' }] };
  await receiveDiskCopy(bufferReader(stream([manifest, { type: 'digest', disk: 0, sha256: sha(content.bytes) }, { type: 'end' }])), disks);
  await assert.rejects(
    receiveDiskCopy(bufferReader(stream([manifest, { type: 'digest', disk: 0, sha256: sha(new Uint8Array(8192)) }, { type: 'end' }])), disks),
    (e: unknown) => e instanceof DiskMismatchError && e.message === "read-only disk 'cd' holds other bytes here than on the primary: give both hosts the same image",
  );
});
